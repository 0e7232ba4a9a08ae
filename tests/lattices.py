"""Test helper: jittered street lattices, the random networks the network tests build on.

``from lattices import jittered_lattice`` (the tests folder is on the path, as for conftest).
"""

from __future__ import annotations

import numpy as np


def jittered_lattice(
    rng: np.random.Generator, n: int, *, spacing: float, jitter: float, drop: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ``n`` × ``n`` lattice of nodes ``spacing`` apart, each moved by up to ``jitter``.

    Draws from ``rng`` in a fixed order (the node jitter, then which edges to drop), so a seed
    gives the same lattice in every test.

    Returns
    -------
    xy, a, b
        The node coordinates (``n * n`` × 2, around the origin), and the two end nodes of
        each edge kept: the horizontal and vertical neighbours, a share ``drop`` removed.
    """
    xy = np.stack(np.meshgrid(np.arange(n) * spacing, np.arange(n) * spacing), -1).reshape(-1, 2)
    xy = xy + rng.uniform(-jitter, jitter, xy.shape)
    idx = np.arange(n * n).reshape(n, n)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(len(a)) >= drop
    return xy, a[keep], b[keep]
