"""Vector tiles (MVT) of polygon layers, for maps the browser draws from tiles.

:class:`TileSet` serves the dashboard's study map (communities and grids, feature id = row
position) and a national result (roll-ups at low zoom, grids at high zoom); tiles are
encoded with numpy (:mod:`gridmap.tiles._mvt`), tens of thousands of polygons per tile in
tens of milliseconds. A national result's prepared set is kept beside it
(:mod:`gridmap.tiles.store`, ``national/.tiles/``); :mod:`gridmap.tiles.national` makes its
layers.
"""

from gridmap.tiles.tileset import MIN_ZOOM, TILE_LAYERS, TileSet, tile_bounds, tiles_covering

__all__ = ["TileSet", "MIN_ZOOM", "TILE_LAYERS", "tile_bounds", "tiles_covering"]
