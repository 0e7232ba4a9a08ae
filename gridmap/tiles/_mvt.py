"""A vectorised Mapbox Vector Tile (MVT 2.1) encoder for polygon and line layers.

``mapbox-vector-tile`` encodes feature by feature in Python (about 1 ms per grid); a city's
50 k grids would take a minute. Here a whole layer is encoded with numpy: the polygons'
rings are quantised to tile coordinates, degenerate rings dropped, windings set as the
specification wants (exterior rings positive area with y down, holes negative) — or a line
layer's lines quantised, repeated points and lines shorter than two points dropped — and the
features written as one stream of varints — a feature message holds nothing else (its ids,
tags, type and geometry are varints; only its lengths have to be computed first).

Property values come as :class:`ValueColumn`: a column whose values are encoded
(:func:`value_field`) when a tile holds them, so a layer of a million features costs nothing
to set up.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely

__all__ = ["ValueColumn", "encode_layer", "value_field", "varint"]

_MOVE_TO, _LINE_TO, _CLOSE = 1, 2, 7
_LINESTRING, _POLYGON = 2, 3


def varint(value: int) -> bytes:
    """One unsigned protobuf varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + varint(len(payload)) + payload


def value_field(value: object) -> bytes:
    """A layer's ``values`` entry (field 4) holding ``value`` (str, bool, int or float)."""
    if isinstance(value, bool):
        msg = b"\x38" + varint(int(value))
    elif isinstance(value, int) and value >= 0:
        msg = b"\x28" + varint(value)
    elif isinstance(value, int):
        msg = b"\x30" + varint((value << 1) ^ (value >> 63))
    elif isinstance(value, float):
        msg = b"\x19" + struct.pack("<d", value)
    else:
        msg = _field(0x0A, str(value).encode("utf-8"))
    return _field(0x22, msg)


#: encoded values a :class:`ValueColumn` keeps (it forgets them all beyond this)
_MEMO_SIZE = 200_000


class ValueColumn:
    """One property of a layer's features, encoded (:func:`value_field`) as tiles ask for it.

    Nothing is computed up front: a layer of a million features is ready at once, and a
    tile encodes the values of its own features (each distinct text or integer once, then
    remembered).

    Parameters
    ----------
    column
        The property, one value per feature (None, NaN or NA: the feature has no such
        property).
    """

    def __init__(self, column: pd.Series) -> None:
        self._column = column.reset_index(drop=True)
        self._memo: dict[tuple[type, object], bytes] = {}
        # numbers as a numpy array now (no copy); other values once prepare() made it
        numeric = isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf"
        self._array: np.ndarray | None = self._column.to_numpy() if numeric else None

    def prepare(self) -> None:
        """Hold the values as one numpy array (a tile then picks its rows without pandas)."""
        if self._array is None:
            self._array = self._column.to_numpy(dtype=object)

    def _encode(self, v: object) -> bytes | None:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, np.generic):
            return value_field(v.item())
        if isinstance(v, float):  # not remembered: 0.0 and -0.0 are equal keys
            return value_field(v)
        if not isinstance(v, (str, int, bool)):
            return value_field(str(v))
        key = (type(v), v)
        out = self._memo.get(key)
        if out is None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            out = self._memo[key] = value_field(v)
        return out

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, bytes]:
        """Which of ``rows`` have a value, and those values' :func:`value_field` bytes, joined."""
        rows = np.asarray(rows, dtype=np.int64)
        array = self._array
        if array is not None:
            values = array[rows].tolist()
        else:
            values = self._column.iloc[rows].astype(object).tolist()
        encoded = [self._encode(v) for v in values]
        present = np.array([e is not None for e in encoded], dtype=bool)
        return present, b"".join([e for e in encoded if e is not None])


#: the smallest value of each varint length beyond one byte
_VARINT_STEPS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)


def _varint_sizes(v: np.ndarray) -> np.ndarray:
    return 1 + np.searchsorted(_VARINT_STEPS, np.asarray(v, dtype=np.uint64), side="right")


def _varints(v: np.ndarray) -> bytes:
    """Unsigned varints of ``v`` (uint64), concatenated."""
    v = v.astype(np.uint64)
    sizes = _varint_sizes(v)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros(int(sizes.sum()), dtype=np.uint8)
    for k in range(int(sizes.max()) if len(sizes) else 0):
        has = sizes > k
        chunk = (v[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (sizes[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + k] = (chunk | more).astype(np.uint8)
    return out.tobytes()


def _zigzag(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _rings(
    geoms: np.ndarray, to_tile: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quantised rings: coords (int64), ring offsets, the ring's feature, exterior flags."""
    if (shapely.get_type_id(geoms) == 3).all() and not shapely.get_num_interior_rings(geoms).any():
        # one ring per feature (a city's grids): its coordinates in order, no ring taken apart
        coords = shapely.get_coordinates(geoms)
        ring_off = np.concatenate([[0], np.cumsum(shapely.get_num_coordinates(geoms))])
        return (
            _quantised(coords, to_tile),
            ring_off,
            np.arange(len(geoms)),
            np.ones(len(geoms), dtype=bool),
        )
    _, coords, offsets = shapely.to_ragged_array(geoms)
    if len(offsets) == 2:  # polygons only: one polygon per feature
        ring_off, poly_off = offsets
        geom_off = np.arange(len(poly_off))
    else:
        ring_off, poly_off, geom_off = offsets
    n_rings = len(ring_off) - 1
    ring_poly = np.repeat(np.arange(len(poly_off) - 1), np.diff(poly_off))
    poly_geom = np.repeat(np.arange(len(geom_off) - 1), np.diff(geom_off))
    exterior = np.zeros(n_rings, dtype=bool)
    exterior[poly_off[:-1][np.diff(poly_off) > 0]] = True
    return _quantised(coords, to_tile), ring_off, poly_geom[ring_poly], exterior


def _quantised(coords: np.ndarray, to_tile: tuple[float, float, float]) -> np.ndarray:
    x0, y0, scale = to_tile
    xy = np.column_stack([(coords[:, 0] - x0) * scale, (y0 - coords[:, 1]) * scale])
    return np.rint(xy).astype(np.int64)


def _lines(
    geoms: np.ndarray, to_tile: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantised lines without repeated points: coords, each kept line's point count, its feature.

    A line left with fewer than two points is dropped.
    """
    _, coords, offsets = shapely.to_ragged_array(geoms)
    if len(offsets) == 1:  # line strings only: one line per feature
        (line_off,) = offsets
        geom_off = np.arange(len(line_off))
    else:
        line_off, geom_off = offsets
    n_lines = len(line_off) - 1
    owner = np.repeat(np.arange(len(geom_off) - 1), np.diff(geom_off))
    coords = _quantised(coords, to_tile)
    line_of = np.repeat(np.arange(n_lines), np.diff(line_off))
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = (coords[1:] != coords[:-1]).any(axis=1) | (line_of[1:] != line_of[:-1])
    coords, line_of = coords[keep], line_of[keep]
    counts = np.bincount(line_of, minlength=n_lines)
    good = counts >= 2
    return coords[good[line_of]], counts[good], owner[good]


def _clean(
    coords: np.ndarray, ring_off: np.ndarray, owner: np.ndarray, exterior: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop closing and repeated points and degenerate rings; set the windings.

    Returns the kept coordinates, each kept ring's point count and its feature.
    """
    n_rings = len(ring_off) - 1
    ring_of = np.repeat(np.arange(n_rings), np.diff(ring_off))
    first = np.zeros(len(coords), dtype=bool)
    first[ring_off[:-1][np.diff(ring_off) > 0]] = True
    last = np.zeros(len(coords), dtype=bool)
    last[ring_off[1:][np.diff(ring_off) > 0] - 1] = True
    same_prev = np.zeros(len(coords), dtype=bool)
    same_prev[1:] = (coords[1:] == coords[:-1]).all(axis=1)
    keep = ~last & ~(same_prev & ~first)
    # a last point equal to its ring's first one (after rounding) closes the ring again
    start_of = ring_off[:-1][ring_of]
    keep &= ~(last | ((coords == coords[start_of]).all(axis=1) & ~first))
    coords, ring_of = coords[keep], ring_of[keep]
    counts = np.bincount(ring_of, minlength=n_rings)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(coords)) - starts[ring_of]
    nxt = np.where(pos + 1 < counts[ring_of], np.arange(len(coords)) + 1, starts[ring_of])
    cross = coords[:, 0] * coords[nxt, 1] - coords[nxt, 0] * coords[:, 1]
    area = np.bincount(ring_of, weights=cross.astype(np.float64), minlength=n_rings)
    good = (counts >= 3) & (area != 0)
    # a hole whose exterior was dropped goes with it
    poly_id = np.cumsum(exterior) - 1
    good &= np.bincount(
        poly_id, weights=(good & exterior), minlength=poly_id.max() + 1 if n_rings else 0
    )[poly_id].astype(bool)
    flip = good & ((area > 0) != exterior)
    # reverse the points of rings with the wrong winding (inside the ring)
    rev = flip[ring_of]
    src = np.arange(len(coords))
    src[rev] = (starts[ring_of] + counts[ring_of] - 1 - pos)[rev]
    coords = coords[src]
    kept_pts = good[ring_of]
    return coords[kept_pts], counts[good], owner[good]


def _geometry_ints(
    coords: np.ndarray, counts: np.ndarray, ring_owner: np.ndarray, *, closed: bool = True
) -> np.ndarray:
    """The command integers of every ring (MoveTo, LineTo ×n-1, ClosePath), in ring order.

    ``closed=False``: of every line (no ClosePath).
    """
    ring_of = np.repeat(np.arange(len(counts)), counts)
    feat_of = ring_owner[ring_of]
    delta = np.diff(coords, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    new_feat = np.ones(len(coords), dtype=bool)
    new_feat[1:] = feat_of[1:] != feat_of[:-1]
    delta[new_feat] = coords[new_feat]  # the cursor starts at (0, 0) in every feature
    size = 2 * counts + 2 + closed
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    out = np.zeros(int(size.sum()), dtype=np.uint64)
    out[start] = (1 << 3) | _MOVE_TO
    out[start + 3] = ((counts - 1) << 3) | _LINE_TO
    if closed:
        out[start + size - 1] = (1 << 3) | _CLOSE
    pos = np.arange(len(coords)) - np.concatenate([[0], np.cumsum(counts)[:-1]])[ring_of]
    at = start[ring_of] + np.where(pos == 0, 1, 2 + 2 * pos)
    out[at] = _zigzag(delta[:, 0])
    out[at + 1] = _zigzag(delta[:, 1])
    return out


def encode_layer(
    name: str,
    geoms: np.ndarray,
    ids: np.ndarray,
    keys: Sequence[str],
    values: Sequence[ValueColumn],
    *,
    rows: np.ndarray | None = None,
    to_tile: tuple[float, float, float],
    extent: int = 4096,
) -> bytes:
    """One layer of a tile, as the bytes of the tile's ``layers`` field (``b""`` when empty).

    Parameters
    ----------
    name
        The layer's name (MapLibre's ``source-layer``).
    geoms
        Polygons or multipolygons (other geometries are dropped), in the coordinates that
        ``to_tile`` maps to the tile's (0…``extent``, y down); or, for a line layer, line
        strings or multi-line strings (no polygon among them).
    ids
        The feature ids (unsigned integers), aligned with ``geoms``.
    keys
        The property names.
    values
        Per key, the layer's whole column (:class:`ValueColumn`).
    rows
        Where ``geoms[i]``'s values are in ``values`` (default ``i``): a tile passes the
        layer's whole columns and the rows it holds.
    to_tile
        ``(x0, y0, scale)``: a point ``(x, y)`` is at ``((x - x0) * scale, (y0 - y) * scale)``
        in the tile (the tile's west and north edges, tile units per map unit).
    extent
        Tile coordinates per side.
    """
    geoms = np.asarray(geoms, dtype=object)
    kinds = shapely.get_type_id(geoms)
    line = bool(np.isin(kinds, (1, 5)).any()) and not np.isin(kinds, (3, 6)).any()
    wanted = (1, 5) if line else (3, 6)
    odd = np.flatnonzero(~np.isin(kinds, wanted))  # clipping left a collection, a line …
    if len(odd):
        geoms = geoms.copy()
        geoms[odd] = [_part_of_kind(g, wanted) for g in geoms[odd]]
    kept = np.flatnonzero(~shapely.is_empty(geoms) & np.isin(shapely.get_type_id(geoms), wanted))
    if not len(kept):
        return b""
    if line:
        coords, counts, ring_owner = _lines(geoms[kept], to_tile)
    else:
        coords, ring_off, owner, exterior = _rings(geoms[kept], to_tile)
        coords, counts, ring_owner = _clean(coords, ring_off, owner, exterior)
    if not len(counts):
        return b""
    geom_ints = _geometry_ints(coords, counts, ring_owner, closed=not line)
    size = 2 * counts + 2 + (not line)  # integers per ring or line
    feats = np.unique(ring_owner)  # features that still have a ring (a line), in order
    ring_feat = np.searchsorted(feats, ring_owner)
    geom_len_ints = np.bincount(ring_feat, weights=size).astype(np.int64)
    per_int_feat = np.repeat(ring_feat, size)
    geom_bytes = np.bincount(
        per_int_feat, weights=_varint_sizes(geom_ints), minlength=len(feats)
    ).astype(np.int64)
    value_rows = kept[feats] if rows is None else np.asarray(rows)[kept[feats]]
    tags, tag_feat, value_block = _tags(value_rows, keys, values)
    tag_len_ints = np.bincount(tag_feat, minlength=len(feats))
    tag_bytes = np.bincount(tag_feat, weights=_varint_sizes(tags), minlength=len(feats)).astype(
        np.int64
    )
    fid = np.asarray(ids, dtype=np.uint64)[kept[feats]]
    has_tags = len(keys) > 0  # a layer without properties leaves the tags field out
    body = (
        1 + _varint_sizes(fid)
        + has_tags * (1 + _varint_sizes(tag_bytes) + tag_bytes)
        + 2
        + 1 + _varint_sizes(geom_bytes) + geom_bytes
    )  # fmt: skip
    stream = _feature_stream(
        fid, body, (tag_bytes, tags, tag_len_ints) if has_tags else None,
        geom_bytes, geom_ints, geom_len_ints, _LINESTRING if line else _POLYGON,
    )  # fmt: skip
    layer = (
        b"\x78\x02"
        + _field(0x0A, name.encode("utf-8"))
        + _varints(stream)
        + b"".join(_field(0x1A, k.encode("utf-8")) for k in keys)
        + value_block
        + b"\x28"
        + varint(extent)
    )
    return _field(0x1A, layer)


def _part_of_kind(g: object, kinds: tuple[int, int]) -> object:
    """The polygonal (or linear) part of a clipping result: of a collection, or nothing."""
    kind = shapely.get_type_id(g)
    if kind in kinds:
        return g
    empty = shapely.Polygon() if 3 in kinds else shapely.LineString()
    if kind == 7:
        parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in kinds]
        if 3 in kinds:
            return shapely.union_all(parts) if parts else empty
        return shapely.multilinestrings(shapely.get_parts(parts)) if parts else empty
    return empty


def _tags(
    rows: np.ndarray, keys: Sequence[str], values: Sequence[ValueColumn]
) -> tuple[np.ndarray, np.ndarray, bytes]:
    """Per-feature tag integers (key index, value index), their feature, the values' bytes."""
    feat_parts, key_parts, val_parts, blocks = [], [], [], []
    offset = 0
    for k, column in enumerate(values):
        present, block = column.take(rows)
        where = np.flatnonzero(present)
        feat_parts.append(where)
        key_parts.append(np.full(len(where), k))
        val_parts.append(offset + np.arange(len(where)))
        blocks.append(block)
        offset += len(where)
    if not feat_parts:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), b""
    feat = np.concatenate(feat_parts)
    order = np.lexsort((np.concatenate(key_parts), feat))
    pairs = np.column_stack([np.concatenate(key_parts)[order], np.concatenate(val_parts)[order]])
    return pairs.ravel().astype(np.uint64), np.repeat(feat[order], 2), b"".join(blocks)


def _feature_stream(
    fid: np.ndarray,
    body: np.ndarray,
    tagging: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    geom_bytes: np.ndarray,
    geom: np.ndarray,
    geom_n: np.ndarray,
    geom_type: int = _POLYGON,
) -> np.ndarray:
    """Every feature as varint integers: ``0x12 len {0x08 id 0x12 len tags 0x18 type 0x22 len geom}``.

    ``tagging`` is ``(tag bytes, tag integers, tag integers per feature)``, or None for a
    layer without properties (no tags field).
    """
    tag_bytes, tags, tag_n = tagging if tagging is not None else (None, None, 0 * geom_n)
    head: list[int | np.ndarray] = [0x12, body, 0x08, fid]
    if tag_bytes is not None:
        head += [0x12, tag_bytes]
    length = len(head) + 4 + tag_n + geom_n
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    out = np.zeros(int(length.sum()), dtype=np.uint64)
    for k, v in enumerate(head):
        out[start + k] = np.asarray(v, dtype=np.uint64)
    tail = start + len(head) + tag_n
    for k, w in enumerate([0x18, geom_type, 0x22, geom_bytes]):
        out[tail + k] = np.asarray(w, dtype=np.uint64)
    if tags is not None:
        out[_ragged_positions(start + len(head), tag_n)] = tags
    out[_ragged_positions(tail + 4, geom_n)] = geom
    return out


def _ragged_positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    owner = np.repeat(np.arange(len(counts)), counts)
    local = np.arange(int(counts.sum())) - np.concatenate([[0], np.cumsum(counts)[:-1]])[owner]
    return starts[owner] + local
