"""Vector tiles (MVT) of polygon and line layers, for maps the browser draws from tiles.

:class:`TileSet` serves the dashboard's study map (communities and grids, feature id = row
position; the communities' border network, :func:`border_lines`, each shared border once)
and a national result (roll-ups at low zoom, grids at high zoom); tiles are encoded with
numpy (:mod:`gridmap.tiles._mvt`), tens of thousands of polygons per tile in tens of
milliseconds. A national result's prepared set is kept beside it (:mod:`gridmap.tiles.store`,
``national/.tiles/``); :mod:`gridmap.tiles.national` makes its layers.
"""

from gridmap.tiles.borders import border_lines, ring_segments
from gridmap.tiles.tileset import MIN_ZOOM, TILE_LAYERS, TileSet, tile_bounds, tiles_covering

__all__ = [
    "TileSet",
    "MIN_ZOOM",
    "TILE_LAYERS",
    "tile_bounds",
    "tiles_covering",
    "border_lines",
    "ring_segments",
]
