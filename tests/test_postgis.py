"""The PostGIS workspace itself: schema and migrations, geometry and CRS, locks, errors, drafts.

Against a real server (tests/pg_fixtures.py starts one, or ``GRIDMAP_TEST_PG_URL``); skipped
cleanly where none can be started. The drafts test runs on both stores.
"""

from __future__ import annotations

import threading
import time

import pytest
from conftest import make_layers
from pg_fixtures import execute, psycopg
from pyproj import CRS
from test_edits import lattice_units
from test_plans import small_plan

from gridmap._errors import InputError
from gridmap.io import read_layer
from gridmap.plans import Plan, WorkspaceError, list_plans, load_plan
from gridmap.plans.drafts import (
    DraftLimit,
    draft_secret,
    drop_draft,
    reserve_draft,
    restore_draft,
    write_draft,
)
from gridmap.plans.postgis import MIGRATIONS, connection_parts
from gridmap.plans.storage import ensure_workspace, open_store

pytestmark = pytest.mark.postgis

SZ2000 = (
    'PROJCS["2000SZ",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",'
    'SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",350000.0],PARAMETER["False_Northing",-2800000.0],'
    'PARAMETER["Central_Meridian",120.783333333333],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


def query(ws: str, sql: str, params: tuple = ()) -> list[tuple]:
    dsn, schema = connection_parts(ws)
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f'SET search_path TO "{schema}", public')
        return con.execute(sql, params).fetchall()


def test_schema_is_created_and_migrated_once(pg_workspace):
    ws = pg_workspace
    assert list_plans(ws).empty  # reading creates nothing
    assert not query(ws, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (ws.split("=")[-1],))
    ensure_workspace(ws)
    ensure_workspace(ws)
    versions = [r[0] for r in query(ws, "SELECT version FROM schema_version ORDER BY version")]
    assert versions == [v for v, _ in MIGRATIONS]
    tables = {r[0] for r in query(ws, "SELECT tablename FROM pg_tables WHERE schemaname = "
                                      "current_schema()")}  # fmt: skip
    assert {"plans", "assignments", "edit_journal", "plan_drafts", "schema_version"} <= tables


def test_geometry_is_postgis_in_the_studys_crs(pg_workspace):
    ws = pg_workspace
    epsg = small_plan("国标")
    epsg.save(ws)
    units = lattice_units(2, 4, 2, 2).set_crs(SZ2000, allow_override=True)
    custom = Plan(units, name="苏州")
    custom.save(ws)
    srids = dict(query(ws, "SELECT p.name, ST_SRID(a.geom) FROM assignments a "
                           "JOIN plans p USING (plan_id) GROUP BY 1, 2"))  # fmt: skip
    assert srids["国标"] == 4549 and 910_000 <= srids["苏州"] < 998_000
    auth, text = query(ws, "SELECT auth_name, srtext FROM spatial_ref_sys WHERE srid = %s",
                       (srids["苏州"],))[0]  # fmt: skip
    assert auth == "gridmap" and CRS.from_wkt(text) == CRS.from_wkt(SZ2000)
    again = Plan(lattice_units(2, 4, 2, 2).set_crs(SZ2000, allow_override=True), name="苏州2")
    again.save(ws)  # the same WKT gets the same SRID
    assert query(ws, "SELECT count(DISTINCT srid) FROM plans WHERE srid >= 910000")[0][0] == 1
    back = load_plan(ws, "苏州")
    assert back.units.crs == CRS.from_wkt(SZ2000)
    assert back.units.geometry.geom_equals_exact(custom.units.geometry, 1e-9).all()
    area = query(ws, "SELECT sum(ST_Area(geom)) FROM assignments a JOIN plans p USING (plan_id) "
                     "WHERE p.name = '苏州'")[0][0]  # fmt: skip
    assert area == pytest.approx(custom.units.area.sum())
    lon = query(ws, "SELECT ST_X(ST_Transform(ST_Centroid(geom), 4326)) FROM assignments a "
                    "JOIN plans p USING (plan_id) WHERE p.name = '苏州' LIMIT 1")[0][0]  # fmt: skip
    assert 120 < lon < 125  # PostGIS projects with the registered WKT


def test_journal_rows_record_author_time_comment_and_refuse_truncate(pg_workspace):
    ws = pg_workspace
    plan = small_plan()
    plan.move(["U001"], "C01", author="王五", comment="调整")
    plan.save(ws)
    rows = query(ws, "SELECT author, time, comment, recorded_at, db_user FROM edit_journal")
    assert [(r[0], r[2]) for r in rows] == [("王五", "调整")] and rows[0][1].startswith("20")
    assert rows[0][3] is not None and rows[0][4] == "postgres"
    with pytest.raises(psycopg.Error, match="append-only"):
        execute(ws, "TRUNCATE edit_journal")


def test_a_save_locks_only_its_plans_row(pg_workspace):
    ws = pg_workspace
    small_plan("甲").save(ws)
    small_plan("乙").save(ws)
    a_id = list_plans(ws).set_index("name").loc["甲", "plan_id"]
    dsn, schema = connection_parts(ws)
    holder = psycopg.connect(dsn)  # another planner in the middle of saving 甲
    holder.execute(f'SET search_path TO "{schema}", public')
    holder.execute("SELECT 1 FROM plans WHERE plan_id = %s FOR UPDATE", (a_id,))
    try:
        b = load_plan(ws, "乙")
        b.move(["U001"], "C01")
        t0 = time.monotonic()
        b.save(ws)  # another plan: does not wait
        assert time.monotonic() - t0 < 5
        a = load_plan(ws, "甲")
        a.move(["U001"], "C01")
        done = threading.Event()
        saver = threading.Thread(target=lambda: (a.save(ws), done.set()))
        saver.start()
        assert not done.wait(1.0)  # the same plan: waits for the row
    finally:
        holder.rollback()
        holder.close()
    saver.join(30)
    assert done.is_set() and load_plan(ws, "甲").version == 2


def test_unreachable_server_and_bad_urls_are_worded(pg_url):
    with pytest.raises(WorkspaceError, match="无法连接") as err:
        small_plan().save("postgresql://planner:s3cret@127.0.0.1:1/nowhere?schema=g")
    assert err.value.reason == "unreachable" and "s3cret" not in str(err.value)
    with pytest.raises(ValueError, match="schema"):
        open_store(pg_url + "?schema=bad-name;drop")
    with pytest.raises(ValueError, match="pathlib.Path"):
        open_store("postgresql:/planner@db/city")  # what Path() makes of a URL


def test_drafts_live_in_the_workspace(workspace):
    ws = workspace
    secret = draft_secret(ws)
    assert len(secret) == 32 and draft_secret(ws) == secret
    plan = small_plan()
    plan.save(ws)
    reserve_draft(ws, "tab1", "王五", max_per_user=1, max_total=5)
    plan.move(["U001"], "C01", author="王五")
    write_draft(ws, "tab1", "王五", plan, max_total=5)
    with pytest.raises(DraftLimit):
        reserve_draft(ws, "tab2", "王五", max_per_user=1, max_total=5)
    assert restore_draft(ws, "tab1", "赵六", fresh=small_plan) is None  # not theirs
    back, draft = restore_draft(ws, "tab1", "王五", fresh=small_plan)
    assert draft.unsaved == 1 and back.labels.equals(plan.labels) and back.dirty
    assert back.version == 1  # the saved plan is the draft's base
    back.save(ws)  # the draft's base is the saved plan: it saves on top
    assert load_plan(ws, "方案A").labels["U001"] == "C01"
    drop_draft(ws, "tab1")
    assert restore_draft(ws, "tab1", "王五", fresh=small_plan) is None


def test_study_layers_are_read_from_postgis(pg_url):
    """A city's communities straight from its database: table or query, CRS from the SRID."""
    comm, _, _ = make_layers()
    schema = "城市库"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        con.execute(
            f'CREATE TABLE "{schema}"."社区" (id serial, "社区编码" text, "社区名称" text, '
            '"街道" text, geom geometry(Polygon, 4549))'
        )
        for row in comm.itertuples():
            con.execute(
                f'INSERT INTO "{schema}"."社区" ("社区编码", "社区名称", "街道", geom) '
                "VALUES (%s, %s, %s, ST_GeomFromWKB(%s, 4549))",
                (row.社区编码, row.社区名称, row.街道, row.geometry.wkb),
            )
    url = f"postgresql://{pg_url.split('://', 1)[1]}"
    back = read_layer(f"{url}#{schema}.社区")
    assert back.crs.to_epsg() == 4549 and back.attrs["source"]["format"] == "postgis"
    assert back["社区编码"].tolist() == comm["社区编码"].tolist()
    assert back.geometry.geom_equals(comm.geometry).all()
    picked = read_layer(f'{url}#SELECT * FROM "{schema}"."社区" WHERE "社区名称" = \'甲社区\'')
    assert picked["社区名称"].tolist() == ["甲社区"]
    with pytest.raises(InputError, match="没有 PostGIS 几何列"):
        read_layer(f"{url}#SELECT 1 AS x")
    with pytest.raises(InputError):
        read_layer(f"{url}#{schema}.没有这张表")
    with pytest.raises(InputError, match="表或查询"):
        read_layer(url)
