"""The command line: contract outputs, exit codes, readable errors."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_study_gpkg

from gridmap.cli import main


@pytest.fixture
def gpkg(tmp_path):
    return write_study_gpkg(tmp_path / "区.gpkg")


def test_check_writes_contract_and_prints_chinese_summary(gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "check",
            "--communities",
            f"{gpkg}:社区",
            "--grids",
            f"{gpkg}:网格",
            "--households",
            f"{gpkg}:楼栋",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "社区 2 个" in text and "网格综合协理员" in text
    for name in ("communities.csv", "grids.csv", "findings.csv", "result.gpkg", "summary.json"):
        assert (out / name).exists(), name
    f = pd.read_csv(out / "findings.csv")
    assert "需增配 2 名协理员" in set(f.message)


def test_check_json_summary(gpkg, capsys):
    code = main(
        [
            "check",
            "--communities",
            f"{gpkg}:社区",
            "--grids",
            f"{gpkg}:网格",
            "--households",
            f"{gpkg}:楼栋",
            "--json",
        ]
    )
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert s["households_total"] == 3200 and s["households_unassigned"] == 0
    assert s["rules"]["community.size"] == {"pass": 2}


def test_config_file_and_profile_override(gpkg, tmp_path, capsys):
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(
        f'[study]\nname = "测试区"\nprofile = "zhejiang-2007"\n[layers]\ncommunities = "{gpkg.name}:社区"\n'
        f'grids = {{ path = "{gpkg.name}", layer = "网格" }}\nhouseholds = "{gpkg.name}:楼栋"\n',
        encoding="utf-8",
    )
    assert main(["check", str(cfg), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["profile"] == "zhejiang-2007" and s["study"] == "测试区"
    assert s["rules"]["community.size"] == {"fail": 1, "pass": 1}  # 1200 < 1500
    assert main(["check", str(cfg), "--profile", "national", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"]["community.size"] == {"pass": 2}


def test_unusable_input_exits_2_naming_file_and_column(gpkg, tmp_path, capsys):
    code = main(
        [
            "check",
            "--communities",
            f"{gpkg}:社区",
            "--households",
            f"{gpkg}:楼栋",
            "--map",
            "households=不存在的列",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "不存在的列" in err and "--map" in err


def test_missing_file_and_missing_layer(gpkg, tmp_path, capsys):
    assert main(["check", "--communities", str(tmp_path / "nope.shp")]) == 2
    assert "nope.shp" in capsys.readouterr().err
    assert main(["check", "--communities", f"{gpkg}:没有这个图层"]) == 2
    err = capsys.readouterr().err
    assert "没有这个图层" in err and "网格" in err  # lists the layers that exist


def test_profiles_and_rules_commands(capsys):
    assert main(["profiles"]) == 0
    assert "hangzhou-2008" in capsys.readouterr().out
    assert main(["rules", "national"]) == 0
    out = capsys.readouterr().out
    assert "grid.coordinators" in out and "原文" in out


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "gridmap.cli", "profiles"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "national" in proc.stdout


def test_households_crs_flag_reaches_read_study():
    """The GCJ-02 hint names --households-crs: the flag exists and is passed on."""
    import argparse

    from gridmap.cli.study_args import add_study_arguments, study_kwargs

    p = argparse.ArgumentParser()
    add_study_arguments(p)
    args = p.parse_args(
        ["--communities", "c.gpkg", "--households", "h.csv", "--households-crs", "gcj02"]
    )
    assert study_kwargs(args)["households_crs"] == "gcj02"


def test_library_errors_name_the_keyword_and_the_command_line_the_flag(gpkg, tmp_path, capsys):
    """One problem, two wordings: ``read_study`` names its keyword, ``gridmap check`` the flag."""
    import gridmap

    table = tmp_path / "楼栋.csv"
    table.write_text("户数,X,Y\n120,475000,3465000\n", encoding="utf-8")
    with pytest.raises(gridmap.InputError) as excinfo:
        gridmap.read_study(f"{gpkg}:社区", households=str(table))
    problem = next(p for p in excinfo.value.problems if p.code == "crs.required")
    assert problem.param == "crs" and 'crs="EPSG:45xx"' in problem.fix
    assert "--crs" not in problem.fix
    assert main(["check", "--communities", f"{gpkg}:社区", "--households", str(table)]) == 2
    err = capsys.readouterr().err
    assert "--crs EPSG:45xx" in err and 'crs="' not in err

    keyword = 'mapping=\\{"households": "不存在的列"\\}'
    with pytest.raises(gridmap.InputError, match=keyword) as excinfo:
        gridmap.read_study(
            f"{gpkg}:社区", households=f"{gpkg}:楼栋", mapping={"households": "不存在的列"}
        )
    assert all("--map" not in str(p) for p in excinfo.value.problems)


def test_flag_table_covers_every_study_keyword():
    """Every keyword the study arguments feed has its flag in the one table."""
    import argparse

    from gridmap.cli.main import FLAGS
    from gridmap.cli.study_args import add_study_arguments, study_kwargs

    p = argparse.ArgumentParser()
    add_study_arguments(p)
    argv = []
    for flag in set(FLAGS.values()) - {"--map", "--households-method"}:
        argv += [flag, "x"]
    args = p.parse_args([*argv, "--map", "a=b", "--households-method", "area"])
    assert set(study_kwargs(args)) == set(FLAGS)


def _households_csv(gpkg, path, xcol="东距", ycol="北距"):
    import geopandas as gpd

    hh = gpd.read_file(gpkg, layer="楼栋")
    table = hh.drop(columns=hh.geometry.name).assign(
        **{xcol: hh.geometry.x.round(2), ycol: hh.geometry.y.round(2)}
    )
    table.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_map_names_the_coordinate_columns_of_a_point_table(gpkg, tmp_path, capsys):
    """``--map x=东距 --map y=北距`` reads a CSV whose coordinate columns are not recognised."""
    csv = _households_csv(gpkg, tmp_path / "楼栋.csv")
    base = ["check", "--communities", f"{gpkg}:社区", "--grids", f"{gpkg}:网格"]
    base += ["--households", str(csv), "--crs", "EPSG:4549", "--json"]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "--map x=COLUMN --map y=COLUMN" in err and "x= and y=" not in err
    assert main([*base, "--map", "x=东距", "--map", "households.y=北距"]) == 0
    with_csv = json.loads(capsys.readouterr().out)
    assert main(["check", "--communities", f"{gpkg}:社区", "--grids", f"{gpkg}:网格",
                 "--households", f"{gpkg}:楼栋", "--json"]) == 0  # fmt: skip
    assert with_csv["households_total"] == json.loads(capsys.readouterr().out)["households_total"]


def test_map_coordinates_without_a_point_table_is_refused(gpkg, capsys):
    code = main(["check", "--communities", f"{gpkg}:社区", "--map", "x=东距", "--map", "y=北距"])
    assert code == 2 and "CSV/Excel" in capsys.readouterr().err


def test_summary_hints_at_a_missing_households_layer(gpkg, capsys):
    assert main(["check", "--communities", f"{gpkg}:社区", "--grids", f"{gpkg}:网格"]) == 0
    text = capsys.readouterr().out
    assert "提示：没有住户图层" in text and "--households" in text
    base = ["check", "--communities", f"{gpkg}:社区", "--grids", f"{gpkg}:网格"]
    assert main([*base, "--households", f"{gpkg}:楼栋"]) == 0
    assert "没有住户图层" not in capsys.readouterr().out


def test_demo_keeps_a_planners_edits(tmp_path, capsys):
    """A second ``gridmap demo`` into the same folder keeps an edited gridmap.toml and says so."""
    from gridmap.cli.demo import write_demo_workspace

    config, kept = write_demo_workspace(tmp_path)
    assert kept == [] and config == tmp_path / "gridmap.toml"
    edited = config.read_text(encoding="utf-8").replace('"national"', '"hangzhou-2008"')
    config.write_text(edited, encoding="utf-8")
    assert write_demo_workspace(tmp_path)[0] == config
    again, kept = write_demo_workspace(tmp_path)
    assert config.read_text(encoding="utf-8") == edited
    assert [k.kept.name for k in kept] == ["gridmap.toml"]
    assert (tmp_path / "gridmap.new.toml").read_text(encoding="utf-8") != edited
    assert "gridmap.new.toml" in kept[0].text() and "not overwritten" in kept[0].text("en")


@pytest.mark.parametrize(
    "module",
    [
        "main",
        "coverage",
        "rebalance",
        "report",
        "national",
        "compare",
        "projection",
        "reconcile",
        "plans",
        "serve",
        "users",
        "study_args",
        "demo",
        "progress",
    ],
)
def test_cli_modules_import_no_analysis_stack(module):
    """``gridmap --help`` stays fast: the CLI modules import pandas & co. only inside commands.

    The ``gridmap`` package itself is replaced by an empty one so only the CLI modules count.
    """
    root = Path(__file__).resolve().parents[1] / "gridmap"
    code = (
        "import sys, types\n"
        f"pkg = types.ModuleType('gridmap'); pkg.__path__ = [{str(root)!r}]\n"
        "sys.modules['gridmap'] = pkg\n"
        f"import gridmap.cli.{module}\n"
        "print(sorted(k for k in ('pandas', 'geopandas', 'ortools', 'dash') if k in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_help_walking_speed_is_the_networks():
    from gridmap.cli.coverage import HELP_WALK_KMH
    from gridmap.network import WALK_KMH

    assert HELP_WALK_KMH == f"{WALK_KMH:g}"


class _Tty:
    """A stderr stand-in that says it is a terminal."""

    def __init__(self):
        import io

        self.buf = io.StringIO()

    def write(self, text):
        return self.buf.write(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_progress_on_a_terminal_only_for_long_steps_and_not_with_quiet():
    import argparse
    import time

    from gridmap.cli.progress import step

    args = argparse.Namespace(lang="zh", quiet=False)
    tty = _Tty()
    with step(args, "检查规则", "checking", stream=tty, delay=0.05):
        time.sleep(0.3)
    assert "✓ 检查规则（0." in tty.buf.getvalue()
    quick = _Tty()
    with step(args, "读取数据", "reading", stream=quick, delay=5):
        pass
    assert quick.buf.getvalue() == ""  # quick steps print nothing
    quiet, pipe = _Tty(), _Tty()
    pipe.isatty = lambda: False
    for stream, a in ((quiet, argparse.Namespace(lang="en", quiet=True)), (pipe, args)):
        with step(a, "检查规则", "checking", stream=stream, delay=0.0):
            time.sleep(0.1)
        assert stream.buf.getvalue() == ""
    en = _Tty()
    with step(argparse.Namespace(lang="en"), "检查规则", "checking", stream=en, delay=0.0):
        time.sleep(0.1)
    assert "✓ checking (0." in en.buf.getvalue()


def test_quiet_flag_on_every_study_command():
    from gridmap.cli.main import build_parser

    parser = build_parser()
    for cmd in ("check", "coverage", "rebalance", "demo"):
        extra = ["--out", "x"] if cmd == "rebalance" else []
        assert parser.parse_args([cmd, "--quiet", *extra]).quiet is True


def test_sites_get_cgcs2000_lonlat():
    """``--site``: each proposed site also in lon/lat (CGCS2000, EPSG:4490), in files and text."""
    import geopandas as gpd
    from pyproj import Transformer
    from shapely.geometry import Point

    from gridmap.cli.coverage import siting_lines, with_lonlat

    sites = gpd.GeoDataFrame(
        {"rank": [1], "gain": [120.0]}, geometry=[Point(500_000, 3_350_000)], crs=4549
    )
    out = with_lonlat(sites)
    lon, lat = Transformer.from_crs(4549, 4490, always_xy=True).transform(500_000, 3_350_000)
    assert out["lon"].iloc[0] == pytest.approx(lon, abs=1e-6) and 119 < lon < 122
    assert out["lat"].iloc[0] == pytest.approx(lat, abs=1e-6) and 29 < lat < 31
    row = {"rank": 1, "x": 500_000.0, "y": 3_350_000.0, "gain": 120.0, "lon": lon, "lat": lat}
    report = {"facility_type": "kindergarten", "status": "optimal", "k": 1, "sites": [row]}
    report |= {"covered_new": 120.0, "upper_bound": 120.0, "gap": 0.0}
    assert f"{lon:.6f}°E {lat:.6f}°N" in "\n".join(siting_lines(report, zh=True))


def test_rebalance_into_a_workspace_with_the_plan_name_says_plan_name(tmp_path, capsys):
    """A second run saving into the same --workspace is refused at once, naming --plan-name."""
    from gridmap.plans import Plan

    ws = tmp_path / "ws.gpkg"
    plan = Plan.from_check(__import__("gridmap").check(_tiny_study()), name="自动调整方案")
    plan.save(ws)
    code = main(["rebalance", "--communities", "x.gpkg", "--out", str(tmp_path / "o"),
                 "--workspace", str(ws)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--plan-name" in err and "自动调整方案" in err


def _tiny_study():
    from conftest import make_layers

    from gridmap import read_study

    comm, grids, hh = make_layers()
    return read_study(comm, grids, hh)


def test_lazy_package_names_stay_the_functions():
    """``gridmap.check`` stays the function after another import loaded the module of that name."""
    code = (
        "import gridmap, gridmap.national\n"
        "import gridmap.report, gridmap.national.rollup\n"  # load the submodules first
        "from gridmap.check import CheckResult\n"
        "print(callable(gridmap.check), gridmap.check.__name__, gridmap.national.rollup.__name__,"
        " gridmap.CheckResult is CheckResult, 'read_study' in dir(gridmap))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["True", "check", "rollup", "True", "True"]
