"""Read the layers planners actually have into GeoDataFrames; write GIS files they open.

One entry point, :func:`read_layer`, reads GeoPackage, Shapefile (also zipped),
GeoJSON, GeoParquet, FlatGeobuf, File Geodatabase, and CSV/Excel tables with
coordinate columns. It deals with the traps of Chinese government data:

- Shapefiles in GBK with or without a ``.cpg`` (the encoding is detected from
  the raw ``.dbf`` bytes: strict UTF-8 first, then GBK/GB18030);
- GeoJSON with a non-standard top-level ``"crs_wkt"`` member;
- CSV in GBK, full-width digits in coordinates, swapped lon/lat columns,
  projected X/Y columns without a coordinate system;
- GCJ-02 / BD-09 coordinates (converted to WGS84 when ``crs="gcj02"``/``"bd09"``).

Every failure raises :class:`gridmap.InputError` naming the file,
layer, column and row, and how to fix it. Inputs are only ever read.

The result always has a fresh ``RangeIndex``, its geometry column is named
``"geometry"``, and ``gdf.attrs["source"]`` records where it came from::

    {"file": ..., "layer": ..., "encoding": ..., "crs_from": ..., "format": ...}

The package, by idea:

- :mod:`~gridmap.io.sources`: formats, ``file.gpkg:layer`` strings, layers and sheets
  (:func:`list_layers`);
- :mod:`~gridmap.io.encodings`: the text encoding of Shapefile attribute tables;
- :mod:`~gridmap.io.vector`: GIS layers through pyogrio/GDAL, and GeoParquet;
- :mod:`~gridmap.io.tables`: CSV and Excel tables read as text, numbers restored;
- :mod:`~gridmap.io.points`: coordinate columns of a table turned into points;
- :mod:`~gridmap.io.crs_override`: a user's ``crs=`` applied (:func:`state_crs`);
- :mod:`~gridmap.io.readers`: :func:`read_layer`, the one entry point.

And the writers every GIS output of gridmap goes through:

- :mod:`~gridmap.io.gpkg`: :func:`write_gpkg`, GeoPackage 1.2 (what GDAL 3.6 / QGIS 3.22
  read without warnings) with default styles in ``layer_styles``; :func:`field_name`;
- :mod:`~gridmap.io.shapefile`: :func:`write_shapefile`, GBK or UTF-8 with ``.cpg``, the
  DBF language-driver byte, ``.qml``/``.sld`` styles beside it;
- :mod:`~gridmap.io.styles`: the default styles (QML, SLD) in the report's palette;
- :mod:`~gridmap.io.csv_out`: :func:`write_csv`, the contract's CSV tables (pandas' bytes,
  UTF-8 with BOM, written column-wise through Arrow).
"""

from gridmap.io.crs_override import state_crs
from gridmap.io.csv_out import write_csv
from gridmap.io.gpkg import field_name, write_gpkg
from gridmap.io.readers import read_layer
from gridmap.io.shapefile import write_shapefile
from gridmap.io.sources import SUPPORTED_FORMATS, list_layers
from gridmap.io.styles import LayerStyle, gap_style, size_style, status_style

__all__ = [
    "read_layer",
    "list_layers",
    "state_crs",
    "SUPPORTED_FORMATS",
    "write_gpkg",
    "write_shapefile",
    "write_csv",
    "field_name",
    "LayerStyle",
    "status_style",
    "gap_style",
    "size_style",
]
