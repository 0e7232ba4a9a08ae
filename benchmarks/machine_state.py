"""What a benchmark process cost the machine, and what fresh memory costs on it right now.

:func:`proc_stats` (CPU seconds, page faults of this process) goes into each timed part's
JSON; :func:`memory_probe` (seconds per GiB of fresh memory) is run in a fresh process at the
start and end of a benchmark so its block can say when the machine itself was slow.
"""

from __future__ import annotations

import resource
import time

import numpy as np


def proc_stats() -> dict:
    """This process's user and system CPU seconds and page faults (worker processes included).

    System seconds and minor faults show how much of a part's time went to getting fresh memory
    from the kernel, which on a VM that hands freed memory back to its host costs far more
    than the ~0.25 µs per page of a bare machine (see :func:`memory_probe`).
    """
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return {
        "user_s": round(me.ru_utime + kids.ru_utime, 2),
        "sys_s": round(me.ru_stime + kids.ru_stime, 2),
        "minor_faults": me.ru_minflt + kids.ru_minflt,
        "major_faults": me.ru_majflt + kids.ru_majflt,
    }


def memory_probe(gib: float = 0.25) -> dict:
    """Seconds per GiB to touch fresh memory, to touch it again, and ns per random read of it.

    The machine's state, not gridmap's: the first figure is what every allocation-heavy step
    (graph builds, geometry creation, Python dicts) pays per GiB of new memory. On a Firecracker
    VM with free-page reporting it swings from ~0.4 s to >7 s per GiB with the host's memory
    pressure, which is what made the baselines drift within one run (29 Nov).
    """
    n = int(gib * 2**30) // 8
    t = time.perf_counter()
    a = np.empty(n)
    a[::512] = 1.0  # one write per 4 KiB page
    fresh = time.perf_counter() - t
    t = time.perf_counter()
    a[::512] = 2.0
    again = time.perf_counter() - t
    idx = np.random.default_rng(0).integers(0, n, 2**22)
    t = time.perf_counter()
    a.take(idx).sum()  # random reads: the memory latency graph and dict walks pay
    rand = time.perf_counter() - t
    return {
        "fresh_s_per_gib": round(fresh / gib, 3),
        "touched_s_per_gib": round(again / gib, 3),
        "random_read_ns": round(rand / 2**22 * 1e9, 1),
    }


if __name__ == "__main__":  # run_all.py runs the probe in a fresh process
    import json

    print(json.dumps(memory_probe()))
