"""Run a national check on Dask: one task per partition, on a local or remote cluster.

:func:`check_national` plans the partitions (:func:`~gridmap.national.plan_partitions`),
submits :func:`~gridmap.national.worker.check_partition` once per partition to a
``dask.distributed`` cluster — a :class:`~distributed.LocalCluster` on this machine by default
(one single-threaded worker process per core, a memory limit per worker), or the scheduler at
``scheduler`` — and combines what the partitions own (:func:`~gridmap.national.combine`).

Dask keeps the run going when a worker dies: the scheduler hands the partitions that worker
held to another (a partition is a pure function of its inputs, so a rerun gives the same rows,
and each partition's rows enter the result once, when its task completes). A task that raises
is retried ``retries`` times; an unusable input in any partition stops the run with every
partition's problems, each prefixed with its partition.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO, overload

from gridmap._atomic import staged_dir
from gridmap._errors import InputError, Problem
from gridmap.national.partition import PartitionPlan, plan_partitions
from gridmap.national.result import NationalResult, combine
from gridmap.national.source import NationalSource
from gridmap.national.stage import stage_partition
from gridmap.national.stream import NationalOutput, write_staged
from gridmap.national.worker import check_partition
from gridmap.qa import community_lookup
from gridmap.rules import load_profile

__all__ = [
    "check_national",
    "ProgressBar",
    "local_cluster",
    "LOCAL_CLUSTER_CONFIG",
    "SHARE_IN_TASK_MAX",
]


class ProgressBar:
    """A one-line console bar: ``[#####     ] 5/10 partitions``, redrawn as tasks finish.

    Parameters
    ----------
    total
        Number of partitions.
    stream
        Where to draw (standard error by default, so ``--json`` output stays clean).
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream or sys.stderr
        self._draw()

    def _draw(self) -> None:
        filled = int(self.width * self.done / max(self.total, 1))
        bar = "#" * filled + " " * (self.width - filled)
        end = "\n" if self.done >= self.total else ""
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} 分区 partitions{end}")
        self.stream.flush()

    def step(self) -> None:
        """One more partition done."""
        self.done += 1
        self._draw()


#: Dask settings of the LocalCluster gridmap starts: the workers' statistical profiler (a
#: sample of the task thread's stack every 10 ms, for the dashboard's Profile page) is off — it
#: takes the interpreter lock from the check ~100 times a second and costs 2–3 % of each partition
LOCAL_CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False}


def local_cluster(n_workers: int | None = None, memory_limit: str | float | None = "auto") -> Any:
    """The ``distributed.LocalCluster`` :func:`check_national` starts when given no scheduler.

    One single-threaded worker process per core (a partition's check is one thread of Python,
    so a process per core uses them all without sharing an interpreter lock), the memory
    limit per worker, the dashboard on a free port, and :data:`LOCAL_CLUSTER_CONFIG`.

    Parameters
    ----------
    n_workers
        Worker processes (default: the cores).
    memory_limit
        Per worker (``"3GB"``, bytes, ``"auto"``: the machine's memory shared out, None: none).

    Returns
    -------
    distributed.LocalCluster
        Started; close it (or use it as a context manager) when done.
    """
    # dask.distributed is imported here: starting it is heavy and only this engine needs it
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # the workers take the config they start with
        return LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=":0",
        )


def _client(stack: ExitStack, scheduler: Any, n_workers: int | None, memory_limit: Any) -> Any:
    """A ``distributed.Client`` on ``scheduler`` (an address or a Client), or on a LocalCluster."""
    # dask.distributed is imported here: see local_cluster
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler
    if scheduler is not None:
        return stack.enter_context(Client(scheduler))
    cluster = stack.enter_context(local_cluster(n_workers, memory_limit))
    return stack.enter_context(Client(cluster))


def _gather(client: Any, futures: dict, bar: ProgressBar | None) -> list[Any]:
    """Each partition's output once, as its task completes; input problems of all partitions."""
    # dask.distributed is imported here: see local_cluster
    from distributed import as_completed

    outputs: list[Any] = []
    problems: list[Problem] = []
    # with_results: each output is fetched as soon as its task ends, while others still run
    done = as_completed(list(futures), with_results=True, raise_errors=False)
    for future, output in done:
        key = futures[future]
        try:
            if future.status != "finished":  # raised (after its retries) or was cancelled
                future.result()
            outputs.append(output)
        except InputError as exc:
            problems += [replace(p, message=f"[分区 {key}] {p.message}") for p in exc.problems]
        if bar is not None:
            bar.step()
    if problems:
        raise InputError(problems)
    return outputs


#: inputs every partition shares up to this size (pickled bytes) travel inside a task of their
#: own; larger ones are scattered to one worker (a task graph should not carry megabytes)
SHARE_IN_TASK_MAX = 4 * 2**20


def _hold(value: Any) -> Any:
    """A task that returns what it was given: the value then lives on the cluster."""
    return value


def _share(client: Any, run: str, **values: Any) -> list[Any]:
    """A future per value every partition needs (the source, the plan, the lookup).

    Each small value is the result of a task that carries it: submitting does not wait, the
    partitions start as soon as it has run, a worker that needs it fetches it from the worker
    holding it, and Dask runs the task again if that worker dies. A broadcast scatter would
    wait here until every worker held a copy (0.3 s before the first partition starts, on two
    local workers). A larger value is scattered to one worker, where workers fetch it alike.
    """
    futures = []
    for name, value in values.items():
        if len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) <= SHARE_IN_TASK_MAX:
            futures.append(client.submit(_hold, value, key=f"gridmap-{name}-{run}", pure=False))
        else:
            futures.append(client.scatter(value, hash=False))
    return futures


def _national_lookup(index: Any) -> dict[str, Any] | None:
    """The country's 所属社区 lookup (codes and unique names); None without codes."""
    if index["code"].isna().all():
        return None
    return community_lookup(index["code"], index["name"])


@overload
def check_national(
    source: NationalSource,
    *,
    partition_by: str = ...,
    profile: str = ...,
    lang: str = ...,
    study_options: dict[str, Any] | None = ...,
    scheduler: Any = ...,
    n_workers: int | None = ...,
    memory_limit: str | float | None = ...,
    retries: int = ...,
    progress: bool = ...,
    log: Callable[[str], None] | None = ...,
    plan: PartitionPlan | None = ...,
    out: None = None,
) -> NationalResult: ...


@overload
def check_national(
    source: NationalSource,
    *,
    partition_by: str = ...,
    profile: str = ...,
    lang: str = ...,
    study_options: dict[str, Any] | None = ...,
    scheduler: Any = ...,
    n_workers: int | None = ...,
    memory_limit: str | float | None = ...,
    retries: int = ...,
    progress: bool = ...,
    log: Callable[[str], None] | None = ...,
    plan: PartitionPlan | None = ...,
    out: str | os.PathLike,
) -> NationalOutput: ...


def check_national(
    source: NationalSource,
    *,
    partition_by: str = "auto",
    profile: str = "national",
    lang: str = "zh",
    study_options: dict[str, Any] | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    memory_limit: str | float | None = "auto",
    retries: int = 2,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    plan: PartitionPlan | None = None,
    out: str | os.PathLike | None = None,
) -> NationalResult | NationalOutput:
    """Check a national dataset partition by partition on a Dask cluster.

    Parameters
    ----------
    source
        Where the layers are (:class:`~gridmap.national.NationalSource`).
    partition_by
        ``"district"``, ``"street"``, ``"spatial"`` or ``"auto"`` (see
        :func:`~gridmap.national.plan_partitions`).
    profile, lang
        As :func:`gridmap.check`.
    study_options
        Further keywords of :func:`gridmap.read_study` (``mapping``, ``households_method``,
        ``facilities_crs``, ``households_crs``, ``name``).
    scheduler
        A scheduler address (``"tcp://10.0.0.1:8786"``) or a ``distributed.Client``; None
        starts a LocalCluster.
    n_workers, memory_limit
        Of the LocalCluster: worker processes (default: the cores) and the memory limit of
        each (``"3GB"``, bytes, ``"auto"``: the machine's memory shared out, None: no limit).
    retries
        How often a partition whose task raised is tried again.
    progress
        Draw a console progress bar on standard error.
    log
        Called with one line of news (the dashboard link); None: silent.
    plan
        Partitions planned beforehand (default: planned from the communities).
    out
        An output folder: the run is out of core end to end. Each worker writes the rows its
        partition owns into a staging folder inside ``out`` (the workers and this process must
        share it: on a remote cluster, a shared file system), and the outputs of
        :meth:`NationalResult.to_dir` are written from there partition by partition; this
        process holds a few row groups and small tables, never the whole result. None: the
        partitions' rows are gathered here and returned in memory.

    Returns
    -------
    NationalResult or NationalOutput
        The whole result in memory (``out=None``), or what was written (``out``): its
        summary, partitions and files (:class:`~gridmap.national.stream.NationalOutput`).

    Raises
    ------
    InputError
        When a partition's input is unusable (every partition's problems, each prefixed).
    """
    prof = load_profile(profile)
    index = source.community_index()
    plan = plan or plan_partitions(index, partition_by)
    lookup = _national_lookup(index)
    options = dict(study_options or {})
    name = str(options.pop("name", None) or "gridmap")
    run = uuid.uuid4().hex[:8]
    for kind in source.kinds():  # the files' boxes go to the workers with the source
        if Path(source.layers[kind]).is_dir():
            source.file_boxes(kind)
    with ExitStack() as stack:
        client = _client(stack, scheduler, n_workers, memory_limit)
        if log is not None:
            log(f"Dask dashboard: {client.dashboard_link}  ({len(plan.keys)} 分区 partitions)")
        source_f, plan_f, lookup_f = _share(client, run, source=source, plan=plan, lookup=lookup)
        task: Callable[..., Any] = check_partition
        staged: tuple[Path, Path, Path] | None = None
        if out is not None:  # out of core: the workers stage their rows inside the output's stage
            stage, _ = stack.enter_context(staged_dir(out))
            staged = (stage, stage / ".partitions", Path(out))
            task = stage_partition
        futures = {
            client.submit(
                task,
                source_f,
                plan_f,
                key,
                *([str(staged[1])] if staged else []),
                profile=profile,
                lang=lang,
                study_options=options,
                lookup=lookup_f,
                key=f"gridmap-partition-{key}-{run}",
                retries=retries,
                pure=False,
            ): key
            for key in plan.keys
        }
        bar = ProgressBar(len(futures)) if progress else None
        outputs = _gather(client, futures, bar)
        if staged is not None:
            written = write_staged(outputs, plan, prof, name=name, out=staged[0], final=staged[2])
            shutil.rmtree(staged[1], ignore_errors=True)  # not an output: gone before the commit
            return written
    return combine(outputs, plan, prof, name=name)
