"""Drafts written at once by many threads share transactions, and every one is stored (#19)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from test_edits import lattice_units

from gridmap.plans import Plan, WorkspaceError
from gridmap.plans import draft_tables as tables
from gridmap.plans.drafts import restore_draft, write_draft


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan(lattice_units(6, 6, 2, 2, households=np.full(36, 100)), name="基础")


def _edited(plan: Plan, k: int) -> Plan:
    copy = Plan(plan.units, name=f"草稿{k}", graph=plan.graph)
    uid = str(copy.units.index[k % len(copy.units)])
    for target in sorted(set(copy.labels) - {copy.labels[uid]}):
        if copy.move([uid], target).ok:
            break
    return copy


def test_concurrent_draft_writes_are_all_stored_in_fewer_transactions(tmp_path, plan, monkeypatch):
    ws = tmp_path / "plans.gpkg"
    calls, lock = [], threading.Lock()
    write = tables.GeoPackageDrafts.write

    def counted(self, rows, *, max_total):
        with lock:
            calls.append(len(rows))
        return write(self, rows, max_total=max_total)

    monkeypatch.setattr(tables.GeoPackageDrafts, "write", counted)
    plans = [_edited(plan, k) for k in range(20)]
    start = threading.Barrier(20)

    def one(k: int) -> None:
        start.wait()
        write_draft(ws, f"u{k % 3}/tab{k}", f"u{k % 3}", plans[k], max_total=200)

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(one, range(20)))
    assert sum(calls) == 20  # every row written once
    assert len(calls) < 20  # ... in fewer transactions (threads queued behind a commit share one)
    for k in range(20):
        found = restore_draft(ws, f"u{k % 3}/tab{k}", f"u{k % 3}", fresh=lambda: Plan(plan.units))
        assert found is not None
        restored, draft = found
        assert draft.name == f"草稿{k}" and restored.labels.equals(plans[k].labels)


def test_a_failed_batch_fails_every_writer_in_it(tmp_path, plan, monkeypatch):
    def refuse(self, rows, *, max_total):
        raise WorkspaceError(tmp_path / "plans.gpkg", "no_space", "disk full")

    monkeypatch.setattr(tables.GeoPackageDrafts, "write", refuse)
    errors = []

    def one(k: int) -> None:
        try:
            write_draft(tmp_path / "plans.gpkg", f"u/tab{k}", "u", plan, max_total=200)
        except WorkspaceError as exc:
            errors.append(exc.reason)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(8)))
    assert errors == ["no_space"] * 8
