"""The check's steps that run on threads of their own while the assignment runs.

GEOS work releases the GIL: the topology QA and the households' point-in-polygon step need only
the polygons (and points), so they start with the check and both cores work while grids meet
communities on the main thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
from geopandas import GeoDataFrame

from gridmap.assign import GridShares, grid_shares
from gridmap.qa import community_topology, grid_overlaps
from gridmap.study import Study

__all__ = ["grid_shares_in_background", "topology_in_background"]


def topology_in_background(
    communities: GeoDataFrame, grids: GeoDataFrame | None
) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame | None, float]]:
    """Topology QA on two threads of its own; call the result to wait for it (and its time).

    :func:`gridmap.qa.community_topology` and :func:`gridmap.qa.grid_overlaps` are GEOS work
    that releases the GIL and needs only the polygons: they run while the assignment does, and
    the thread done first shares the grid pairs' DE-9IM tests, so both cores work on them once
    the assignment waits. On the study's own geometries, read by both threads at once: GEOS
    geometries are immutable, and the topology QA never goes through the prepared geometries
    the assignment builds for the same polygons (those build their indexes lazily, not
    thread-safe), so no copy is needed.
    """
    grid_layer = grids if grids is not None and len(grids) else None
    t = time.perf_counter()
    pool = ThreadPoolExecutor(2, thread_name_prefix="gridmap-topology")
    topology = pool.submit(community_topology, communities)
    overlaps = (
        pool.submit(grid_overlaps, grid_layer, executor=pool) if grid_layer is not None else None
    )
    ended: list[float] = []  # when each task ended, not when the caller asked
    for task in [topology] + ([overlaps] if overlaps is not None else []):
        task.add_done_callback(lambda _: ended.append(time.perf_counter()))

    def result() -> tuple[pd.DataFrame, pd.DataFrame | None, float]:
        try:
            found = topology.result(), None if overlaps is None else overlaps.result()
        finally:
            pool.shutdown(wait=False)  # its threads end with their tasks
        return *found, max(ended) - t

    return result


def grid_shares_in_background(study: Study) -> Future[tuple[GridShares, float]] | None:
    """The households' grids (:func:`gridmap.assign.grid_shares`) on a thread of its own.

    The point-in-polygon step needs only the households and the grids, so it runs while
    :func:`gridmap.assign.assign_grids` intersects grids with communities (GEOS releases the
    GIL: both cores work). Only this thread prepares the grids; the grid step of the main
    thread reads them without preparing them. None without a households layer.
    """
    households, grids = study.households, study.grids
    if households is None:
        return None
    method = study.households_method

    def timed() -> tuple[GridShares, float]:
        t = time.perf_counter()
        return grid_shares(households, grids, method=method), time.perf_counter() - t

    pool = ThreadPoolExecutor(1, thread_name_prefix="gridmap-households")
    future = pool.submit(timed)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future
