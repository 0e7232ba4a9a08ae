"""The blocks ``run_all.py`` writes into ``docs/benchmarks.md``, from the benchmarks' JSON.

What a benchmark is to the writer (:class:`Bench`: its script, how to read its JSON into
:class:`Figure` rows, its :class:`Target` rows), the tolerant readers' helpers (a missing key
is "not measured", never a crash), and the markdown: one block per benchmark between
``<!-- run_all:NAME:begin -->`` and ``<!-- run_all:NAME:end -->`` markers, with the machine,
the load average at start and end (**noisy** above :data:`NOISY_LOAD` at start), versions, date,
commit, median (min–max) of every figure, its baseline from the same runs, the median of
the per-run ratios baseline / gridmap, and every target as met / missed.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

CORE_VERSIONS = ("gridmap", "numpy", "scipy", "shapely", "geopandas", "pandas", "pyogrio")
NOISY_LOAD = 1.5  # 1-minute load average above which a block says its figures are noisy


@dataclass
class Figure:
    """One figure of one run, with its baseline from the same run; ``None``: not measured."""

    label: str
    value: float | None
    baseline: float | None = None
    unit: str = "s"


@dataclass
class Target:
    """A target of the issues on one figure, judged on the medians over the runs.

    ``label`` is the figure's label, or the start of several figures' labels up to a comma
    (``"Dask, 1 worker(s)"`` judges each ``"Dask, 1 worker(s), by …"``). ``kind`` is ``"max"`` (median value ≤ ``bound``), ``"ratio"`` (median of the per-run
    ratios baseline / gridmap ≥ ``bound``) or ``"baseline"`` (median value ≤ median baseline).
    """

    label: str
    kind: str
    bound: float
    text: str
    stage_from: str = ""  # where in the JSON this target's own dominating stage is (else anywhere)


@dataclass
class Bench:
    """How to run one benchmark script, read its figures and judge its targets."""

    script: str
    args: list[str]
    quick_args: list[str]
    figures: Callable[[dict], list[Figure]]
    baseline_name: str = "baseline"
    value_name: str = "gridmap"
    json_to: str = "file"  # "file": --json PATH; "stdout": --json prints the JSON last
    runs: int | None = None  # fixed number of runs (a long benchmark), else --runs
    est_s: float = 60.0  # seconds per full-scale run on the 2 cores when quiet (see run_all.py)
    est_rest_s: float | None = None  # seconds of each later run, when shorter (a cached reference)
    note: str = ""
    targets: list[Target] = field(default_factory=list)
    versions: tuple[str, ...] = ()  # packages named in its block besides CORE_VERSIONS

    @property
    def timeout(self) -> float:
        """Seconds after which a run counts as failed: six times its expected time, ≥ 15 min.

        Generous on purpose: a shared machine at a load of 10 runs a benchmark 5–6× slower.
        """
        return max(900.0, 6 * self.est_s)

    def expected(self, runs: int) -> float:
        """Seconds ``runs`` runs are expected to take on the 2 cores when quiet."""
        rest = self.est_s if self.est_rest_s is None else self.est_rest_s
        return self.est_s + (runs - 1) * rest if runs > 0 else 0.0


# --- reading the benchmarks' JSON (tolerant: a missing key is "not measured") --------------------


def get(r: Any, path: str) -> Any:
    """``r["a"]["b"]`` for ``path`` ``"a.b"``; ``None`` when any key is missing."""
    for key in path.split(".") if path else []:
        if not isinstance(r, dict) or key not in r:
            return None
        r = r[key]
    return r


def num(r: Any, path: str) -> float | None:
    """The number at ``path`` (see :func:`get`), ``None`` when missing or not a number."""
    v = get(r, path)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def add(*xs: float | None) -> float | None:
    """The sum, or ``None`` when any term is missing."""
    return None if any(x is None for x in xs) else sum(x for x in xs if x is not None)


def find_key(r: Any, key: str) -> Iterator[dict]:
    """Every dict inside ``r`` (depth first) that has ``key``."""
    if isinstance(r, dict):
        if key in r:
            yield r
        for v in r.values():
            yield from find_key(v, key)
    elif isinstance(r, list):
        for v in r:
            yield from find_key(v, key)


def dominating_stage(r: dict) -> str | None:
    """The stage a benchmark names as dominating (``dominating_stage``), with its seconds."""
    for d in find_key(r, "dominating_stage"):
        name = d["dominating_stage"]
        secs = num(d, "stages_s." + str(name)) if isinstance(d.get("stages_s"), dict) else None
        return f"{name} ({secs:.2f} s)" if secs is not None else str(name)
    return None


def spec(*figures: tuple[str, ...]) -> Callable[[dict], list[Figure]]:
    """A reader from ``(label, value path, baseline path[, unit])`` rows.

    A path is dotted (see :func:`get`); ``a+b`` sums two paths; ``""`` means no baseline.
    """

    def value(r: dict, path: str) -> float | None:
        return add(*(num(r, p) for p in path.split("+"))) if path else None

    def read(r: dict) -> list[Figure]:
        return [Figure(f[0], value(r, f[1]), value(r, f[2]), *f[3:]) for f in figures]

    return read


# --- tables -------------------------------------------------------------------------------------


def _fmt(x: float, unit: str) -> str:
    if unit == "ms":
        return f"{x:,.0f} ms"
    if unit in ("", "/s"):
        return f"{int(x):,}{unit}" if float(x).is_integer() else f"{x:,.3g}{unit}"
    digits = 3 if abs(x) < 1 else 2 if abs(x) < 10 else 1 if abs(x) < 100 else 0
    return f"{x:,.{digits}f} {unit}"


def _spread(xs: list[float], unit: str) -> str:
    med = _fmt(statistics.median(xs), unit)
    if len(xs) == 1:
        return med
    return f"{med} ({_fmt(min(xs), unit)}–{_fmt(max(xs), unit)})"


def _ratio(xs: list[float]) -> str:
    return _spread(xs, "×").replace(" ×", "×")


@dataclass
class Row:
    """One figure over the runs: values, baselines and per-run ratios baseline / gridmap."""

    label: str
    unit: str
    values: list[float]
    baselines: list[float]
    ratios: list[float]


def rows(per_run: list[list[Figure]]) -> list[Row]:
    """The figures of every run, grouped by label in first-seen order."""
    labels = list(dict.fromkeys(f.label for figs in per_run for f in figs))
    out = []
    for label in labels:
        figs = [f for figs in per_run for f in figs if f.label == label]
        out.append(
            Row(
                label,
                figs[0].unit,
                [f.value for f in figs if f.value is not None],
                [f.baseline for f in figs if f.baseline is not None],
                [
                    f.baseline / f.value
                    for f in figs
                    if f.baseline is not None and f.value is not None and f.value > 0
                ],
            )
        )
    return out


def judge(target: Target, row: Row | None) -> str:
    """``met`` / ``missed`` with the median it was judged on, or ``not measured``."""
    if row is None:
        return "not measured"
    if target.kind == "ratio":
        if not row.ratios:
            return "not measured"
        m = statistics.median(row.ratios)
        ok, shown = m >= target.bound, f"median ratio {m:.2f}×"
    else:
        if not row.values or (target.kind == "baseline" and not row.baselines):
            return "not measured"
        m = statistics.median(row.values)
        bound = target.bound if target.kind == "max" else statistics.median(row.baselines)
        ok, shown = m <= bound, f"median {_fmt(m, row.unit)}"
    return f"**{'met' if ok else 'missed'}** ({shown})"


def header(bench: Bench, runs: list[dict], info: dict, quick: bool) -> str:
    """The line of a block saying where, when, on what and how it was measured."""
    args = bench.quick_args if quick else bench.args
    good = [r for r in runs if "error" not in r]
    start, end_ = info["load"], info.get("load_end")
    loads = f"load average {' / '.join(map(str, start))} at start, " + (
        f"{' / '.join(map(str, end_))} at end" if end_ else "not measured at end"
    )
    # the load at the end counts the benchmark's own processes (20 browser users, 20 editors, a
    # Dask cluster): only the load at its start, after settling, says other work was running
    noisy = (
        f" — **noisy**: load above {NOISY_LOAD:g} at start (other work on the machine), timings are "
        "upper bounds"
        if start[0] > NOISY_LOAD
        else (
            " (the load at the end counts the benchmark's own processes)"
            if end_ and end_[0] > NOISY_LOAD
            else ""
        )
    )
    elapsed = info.get("elapsed_s")
    mem = _memory(info.get("memory"), info.get("memory_end"))
    return (
        f"*Generated by `benchmarks/run_all.py` on {info['date']}, commit `{info['commit']}`: "
        f"{info['cpu']}, {info['cores']} cores, {loads}{noisy}{mem}; Python {info['python']}, "
        + ", ".join(
            f"{k} {v}"
            for k, v in info["versions"].items()
            if k in CORE_VERSIONS or k in bench.versions
        )
        + f". Command: `{' '.join(['python', 'benchmarks/' + bench.script, *args])}`, "
        f"{len(good)} of {len(runs)} run(s) succeeded"
        + (f" ({bench.note})" if bench.note and not quick else "")
        + (f" (**{info['budget_cut']}**)" if info.get("budget_cut") else "")
        + (f", {elapsed / max(len(runs), 1):.0f} s per run" if elapsed else "")
        + (". **Quick smoke run (small scale): not the record.**" if quick else ".")
        + "*"
    )


def _memory(start: dict | None, end: dict | None) -> str:
    """``; fresh memory … s per GiB, random read … ns at start / end`` from two memory probes."""

    def two(key: str, fmt: str) -> str:
        vals = [d.get(key) if isinstance(d, dict) else None for d in (start, end)]
        return " / ".join("?" if v is None else fmt.format(v) for v in vals)

    if not start and not end:
        return ""
    return (
        f"; fresh memory {two('fresh_s_per_gib', '{:.2f}')} s per GiB, random read "
        f"{two('random_read_ns', '{:.0f}')} ns at start / end"
    )


def table(name: str, bench: Bench, runs: list[dict], info: dict, quick: bool) -> str:
    """The markdown block of one benchmark from its runs' JSON results.

    ``info`` is :func:`machine`'s dict, with ``load_end`` (load averages when the benchmark
    ended) and ``elapsed_s`` when known. A run whose output has none of the figures the
    reader expects counts as failed; single missing figures read "not measured".
    """
    per_run, runs = [], list(runs)
    for k, r in enumerate(runs):
        if "error" in r:
            continue
        try:
            figs = bench.figures(r)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            runs[k] = {"error": f"output this reader cannot read ({type(exc).__name__}: {exc})"}
            continue
        if all(f.value is None and f.baseline is None for f in figs):
            runs[k] = {"error": "output without the figures this reader expects (older script?)"}
        else:
            per_run.append(figs)
    lines = [header(bench, runs, info, quick), ""]
    errors = sorted({r["error"] for r in runs if "error" in r})
    lines += [f"**Not reproduced in this run:** {e}" for e in errors]
    if not per_run:
        return "\n".join(lines).rstrip()
    if errors:
        lines.append("")
    lines += [
        f"| figure | {bench.value_name}, median (min–max) | baseline: {bench.baseline_name} "
        f"| ratio baseline / {bench.value_name} |",
        "|---|---:|---:|---:|",
    ]
    table_rows = rows(per_run)
    for row in table_rows:
        value = _spread(row.values, row.unit) if row.values else "not measured"
        base = _spread(row.baselines, row.unit) if row.baselines else "—"
        lines.append(
            f"| {row.label} | {value} | {base} | {_ratio(row.ratios) if row.ratios else '—'} |"
        )
    if bench.targets:
        lines += ["", "Targets (judged on the medians):"]
    good = [r for r in runs if "error" not in r]

    def stage_of(t: Target) -> str | None:
        where = (get(r, t.stage_from) if t.stage_from else r for r in good)
        return next((s for w in where if isinstance(w, dict) and (s := dominating_stage(w))), None)

    for t in bench.targets:
        matched: list[Row | None] = [
            r for r in table_rows if r.label == t.label or r.label.startswith(t.label + ",")
        ]
        for hit in matched or [None]:
            verdict = judge(t, hit)
            which = f" [{hit.label}]" if hit and len(matched) > 1 else ""
            stage = stage_of(t) if "missed" in verdict else None
            more = f"; dominating stage: {stage}" if stage else ""
            lines.append(f"- {t.text}{which}: {verdict}{more}")
    return "\n".join(lines).rstrip()


def skipped(bench: Bench, info: dict, why: str, old: str) -> str:
    """The block of a benchmark not run: says so, keeps an earlier generated block below."""
    kept = "\n".join(
        line for line in old.strip().splitlines() if not line.startswith("**Skipped")
    ).strip()
    note = (
        f"**Skipped: {why}** (run of {info['date']}, commit `{info['commit']}`, "
        f"expected {bench.est_s:.0f} s per run)."
    )
    if "Generated by `benchmarks/run_all.py`" in kept:
        return f"{note} The figures below are the earlier generated run its own line describes.\n\n{kept}"
    return note


def begin(name: str) -> str:
    """The marker opening ``name``'s generated block."""
    return f"<!-- run_all:{name}:begin -->"


def end(name: str) -> str:
    """The marker closing ``name``'s generated block."""
    return f"<!-- run_all:{name}:end -->"


def read_block(doc: str, name: str) -> str:
    """The text between ``name``'s markers, ``""`` when absent."""
    b, e = begin(name), end(name)
    if b in doc and e in doc and doc.index(b) < doc.index(e):
        return doc[doc.index(b) + len(b) : doc.index(e)]
    return ""


def write_block(doc: str, name: str, block: str) -> str:
    """``doc`` with the text between ``name``'s markers replaced by ``block`` (appended if absent)."""
    b, e = begin(name), end(name)
    if b in doc and e in doc and doc.index(b) < doc.index(e):
        i, j = doc.index(b) + len(b), doc.index(e)
        return doc[:i] + "\n" + block + "\n" + doc[j:]
    return doc.rstrip("\n") + f"\n\n## {name} (generated)\n\n{b}\n{block}\n{e}\n"


_GENERATED = re.compile(r"Generated by `benchmarks/run_all.py` on ([^,]+), commit `([^`]*)`")
_SKIPPED = re.compile(r"\*\*Skipped: ([^*]+)\*\* \(run of ([^,]+), commit `([^`]*)`")
_RUNS = re.compile(r"(\d+) of (\d+) run\(s\) succeeded")


def index(doc: str) -> str:
    """The table of every generated block in ``doc``: its date, commit, runs, noisy or skipped.

    Blocks are rerun one at a time (``--only``), so each keeps its own date; this table, kept
    between ``run_all:index`` markers, says at a glance which figures are from which run.
    """
    names = re.findall(r"^<!-- run_all:([\w-]+):begin -->", doc, flags=re.MULTILINE)
    lines = [
        "| block | figures generated | commit | runs | state |",
        "|---|---|---|---:|---|",
    ]
    for name in dict.fromkeys(n for n in names if n != "index"):
        text = read_block(doc, name)
        skip, gen, runs = _SKIPPED.search(text), _GENERATED.search(text), _RUNS.search(text)
        state = []
        if skip:
            state.append(f"last run ({skip.group(2)}) skipped: {skip.group(1).strip()}")
        if gen:
            state.append("**noisy**" if "**noisy**" in text else "quiet")
            if "Quick smoke run" in text:
                state.append("quick smoke run, not the record")
            if "planned runs: budget" in text:
                state.append("runs cut by the budget")
        date, commit = (gen.group(1), f"`{gen.group(2)}`") if gen else ("never", "—")
        count = f"{runs.group(1)} of {runs.group(2)}" if gen and runs else "—"
        lines.append(f"| {name} | {date} | {commit} | {count} | {', '.join(state) or '—'} |")
    return "\n".join(lines)
