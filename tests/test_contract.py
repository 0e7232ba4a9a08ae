"""The output contract does not move: ``gridmap check --out`` on the demo and SIP vs golden files.

What is compared (DESIGN.md, "CLI contract"):

- ``communities.csv``, ``grids.csv``, ``findings.csv``, ``problems.csv``, ``coverage.csv``:
  the bytes (sha256), after the run's temporary folder is replaced by ``<TMP>`` and the SIP
  data folder by ``<SIP>`` in the text;
- ``summary.json``: equal as data, without ``timings_s``;
- ``result.gpkg``: every layer's attributes equal (sha256 of each column written as CSV, and
  its type), and every feature's geometry within 1e-6 m: vertex count, bounds, area and length
  of each feature against a fingerprint table.

The golden files live in ``tests/golden/<case>/``: ``digests.json`` (always), the CSV and
JSON outputs themselves when small (so a failure shows the first differing lines), and one
``<layer>.geom.csv.gz`` fingerprint per GeoPackage layer. Cases: ``demo`` (the bundled
demo workspace, its config) and ``sip`` (the real Suzhou Industrial Park communities and
comprehensive grids with ``synthetic_households(seed=0)``; marked ``realdata``, skipped
when ``/work/shared/data/sip`` is absent).

Regenerate after an *intended* change of the outputs (and say why in the commit)::

    python -m pytest tests/test_contract.py --update-golden

The digests are of this environment's pinned versions (``constraints.txt``): another
shapely/GEOS/numpy may legitimately move the last float digit.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import SIP

from gridmap.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
CSVS = ("communities.csv", "grids.csv", "findings.csv", "problems.csv", "coverage.csv")
KEEP_BYTES = 32_000  # outputs up to this size are committed as reference files too
TOL = 1e-6  # metres


# --------------------------------------------------------------------------- SIP (the demo run is
# the session's ``demo_check_out`` of conftest.py)


def _run_sip(tmp: Path) -> Path:
    import gridmap
    from gridmap.synthetic import synthetic_households

    gpkg = SIP / "sip.gpkg"
    base = gridmap.read_study(f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive")
    synthetic_households(base.communities, base.grids, seed=0).to_file(
        tmp / "households.gpkg", engine="pyogrio"
    )
    args = [
        "check",
        "--communities",
        f"{gpkg}:communities",
        "--grids",
        f"{gpkg}:grids_comprehensive",
        "--households",
        str(tmp / "households.gpkg"),
        "--out",
        str(tmp / "out"),
    ]
    assert main(args) == 0
    return tmp / "out"


# --------------------------------------------------------------------------- what is compared


def _text(path: Path, tmp: Path) -> bytes:
    """The file's bytes, the run's temporary folder and the SIP folder replaced by placeholders."""
    data = path.read_bytes().replace(str(tmp).encode(), b"<TMP>")
    return data.replace(str(SIP).encode(), b"<SIP>")


def _summary(path: Path, tmp: Path) -> dict:
    data = json.loads(_text(path, tmp))
    data.pop("timings_s", None)
    return data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _layer_attributes(df: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Per column: the sha256 of its values written as CSV, and its type."""
    table = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
    shas = {str(c): _sha(table[c].to_csv(index=False).encode()) for c in table.columns}
    return shas, {str(c): str(t) for c, t in table.dtypes.items()}


def _fingerprint(geoms) -> pd.DataFrame:
    """Per feature: vertex count, bounds, area and length (NaN for a missing geometry)."""
    arr = np.asarray(geoms, dtype=object)
    b = shapely.bounds(arr)
    return pd.DataFrame(
        {
            "n": shapely.get_num_coordinates(arr),
            "xmin": b[:, 0],
            "ymin": b[:, 1],
            "xmax": b[:, 2],
            "ymax": b[:, 3],
            "area": shapely.area(arr),
            "length": shapely.length(arr),
        }
    )


def _outputs(out: Path, tmp: Path) -> dict:
    """Everything compared, computed from one run's ``out`` folder."""
    files = {name: _text(out / name, tmp) for name in CSVS if (out / name).exists()}
    layers = {}
    for name, geom_type in pyogrio.list_layers(out / "result.gpkg"):
        df = pyogrio.read_dataframe(out / "result.gpkg", layer=name)
        sha, dtypes = _layer_attributes(df)
        geom = _fingerprint(df.geometry.values) if geom_type is not None else None
        layers[name] = {
            "rows": len(df),
            "geometry_type": geom_type,
            "attributes_sha256": sha,
            "dtypes": dtypes,
            "fingerprint": geom,
        }
    return {"files": files, "summary": _summary(out / "summary.json", tmp), "layers": layers}


# --------------------------------------------------------------------------- golden files


def _write_golden(case: str, got: dict) -> None:
    folder = GOLDEN / case
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    digests: dict[str, dict] = {
        "files": {n: _sha(b) for n, b in sorted(got["files"].items())},
        "layers": {},
    }
    for name, data in sorted(got["files"].items()):
        if len(data) <= KEEP_BYTES:
            (folder / name).write_bytes(data)
    summary = json.dumps(got["summary"], ensure_ascii=False, indent=1) + "\n"
    (folder / "summary.json").write_text(summary, encoding="utf-8")
    for name, layer in got["layers"].items():
        digests["layers"][name] = {k: v for k, v in layer.items() if k != "fingerprint"}
        if layer["fingerprint"] is not None:
            text = layer["fingerprint"].to_csv(index=False, float_format="%.17g").encode()
            with gzip.GzipFile(folder / f"{name}.geom.csv.gz", "wb", mtime=0) as fh:
                fh.write(text)
    (folder / "digests.json").write_text(
        json.dumps(digests, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


def _first_difference(want: bytes, got: bytes) -> str:
    pairs = zip(want.decode().splitlines(), got.decode().splitlines(), strict=False)
    for i, (a, b) in enumerate(pairs):
        if a != b:
            return f"first difference on line {i + 1}:\n  golden: {a}\n  now:    {b}"
    return f"{len(want.splitlines())} golden lines, {len(got.splitlines())} now"


def _compare(case: str, got: dict) -> list[str]:
    """Every difference from the golden files of ``case``, as readable lines."""
    folder = GOLDEN / case
    if not (folder / "digests.json").exists():
        pytest.fail(f"no golden files in {folder}: pytest tests/test_contract.py --update-golden")
    digests = json.loads((folder / "digests.json").read_text(encoding="utf-8"))
    errors = []
    if sorted(digests["files"]) != sorted(got["files"]):
        errors.append(f"files: golden {sorted(digests['files'])}, now {sorted(got['files'])}")
    for name, sha in digests["files"].items():
        data = got["files"].get(name)
        if data is not None and _sha(data) != sha:
            ref = folder / name
            detail = _first_difference(ref.read_bytes(), data) if ref.exists() else "(digest only)"
            errors.append(f"{name} changed: {detail}")
    want_summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    if want_summary != got["summary"]:
        keys = sorted(
            k
            for k in set(want_summary) | set(got["summary"])
            if want_summary.get(k) != got["summary"].get(k)
        )
        errors.append(f"summary.json changed in {keys}")
    if sorted(digests["layers"]) != sorted(got["layers"]):
        errors.append(
            f"result.gpkg layers: golden {sorted(digests['layers'])}, now {sorted(got['layers'])}"
        )
    for name, want in digests["layers"].items():
        if name in got["layers"]:
            errors += _compare_layer(folder, name, want, got["layers"][name])
    return errors


def _compare_layer(folder: Path, name: str, want: dict, got: dict) -> list[str]:
    errors = [
        f"result.gpkg:{name} {key}: golden {want[key]}, now {got[key]}"
        for key in ("rows", "geometry_type", "dtypes")
        if want[key] != got[key]
    ]
    want_sha, got_sha = want["attributes_sha256"], got["attributes_sha256"]
    changed = [c for c in want_sha if got_sha.get(c) != want_sha[c]]
    if changed or sorted(want_sha) != sorted(got_sha):
        errors.append(f"result.gpkg:{name} attributes changed in columns {changed}")
    if got["fingerprint"] is None or errors[:1] and "rows" in errors[0]:
        return errors
    ref = pd.read_csv(folder / f"{name}.geom.csv.gz")
    now = got["fingerprint"]
    if not ref["n"].equals(now["n"].astype(ref["n"].dtype)):
        bad = _rows(ref["n"] != now["n"])
        errors.append(f"result.gpkg:{name} vertex counts differ in rows {bad}")
    n = ref["n"].to_numpy(dtype=float)
    tolerance = {
        "xmin": TOL,
        "ymin": TOL,
        "xmax": TOL,
        "ymax": TOL,
        "length": 2 * TOL * np.maximum(n, 1),
        "area": TOL * (ref["length"].to_numpy() + 1),
    }
    for col, atol in tolerance.items():
        a, b = ref[col].to_numpy(dtype=float), now[col].to_numpy(dtype=float)
        bad = ~(np.isclose(a, b, rtol=0, atol=atol) | (np.isnan(a) & np.isnan(b)))
        if bad.any():
            errors.append(f"result.gpkg:{name} {col} moved more than {TOL} m in rows {_rows(bad)}")
    return errors


def _rows(mask) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.asarray(mask))[:10]]


# --------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def demo_outputs(demo_check_out) -> dict:
    """The compared outputs of the session's demo run (read-only: deep-copy before changing)."""
    return _outputs(demo_check_out, demo_check_out.parent)


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))


def _check_case(case: str, got: dict, update: bool) -> None:
    if update:
        _write_golden(case, got)
        pytest.skip(f"golden files of {case!r} written to {GOLDEN / case}")
    errors = _compare(case, got)
    assert not errors, "the output contract changed:\n" + "\n".join(errors)


def test_demo_contract_unchanged(demo_outputs, update_golden):
    _check_case("demo", demo_outputs, update_golden)


@pytest.mark.realdata
def test_sip_contract_unchanged(sip, tmp_path, update_golden):
    _check_case("sip", _outputs(_run_sip(tmp_path), tmp_path), update_golden)


def test_the_comparison_notices_a_changed_number(demo_outputs, update_golden):
    """The guard itself: one changed digit in a CSV and a moved vertex are both reported."""
    if update_golden:
        pytest.skip("golden files are being written")
    got = copy.deepcopy(demo_outputs)
    got["files"]["communities.csv"] = got["files"]["communities.csv"].replace(b",1", b",2", 1)
    got["layers"]["grids"]["fingerprint"].loc[0, "xmin"] += 1e-5
    errors = "\n".join(_compare("demo", got))
    assert "communities.csv changed: first difference on line" in errors
    assert "result.gpkg:grids xmin moved" in errors
