"""Render gridmap's GIS outputs in headless QGIS with their stored default styles (docs/gis/*.png).

Run with Debian's Python, which has QGIS (``apt-get install python3-qgis qgis-providers``)::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/gis/render_qgis.py OUT_DIR LAYERS_DIR

``OUT_DIR`` holds ``result.gpkg`` (``gridmap demo``'s ``out``), ``LAYERS_DIR`` the Shapefiles of
``gridmap export … --out LAYERS_DIR``. Nothing is styled here: QGIS loads each layer's default
style (``layer_styles`` in the GeoPackage, ``.qml`` beside the Shapefile), as it does for a planner.
"""

import os
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsLayoutExporter,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsPrintLayout,
    QgsProject,
    QgsUnitTypes,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QFont

HERE = Path(__file__).resolve().parent


def render(layers, title, png):
    project = QgsProject.instance()
    project.clear()
    loaded = []
    for uri, name in layers:
        layer = QgsVectorLayer(uri, name, "ogr")
        assert layer.isValid(), uri
        project.addMapLayer(layer)
        loaded.append(layer)
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    page = layout.pageCollection().page(0)
    page.setPageSize(QgsLayoutSize(260, 170, QgsUnitTypes.LayoutMillimeters))
    themap = QgsLayoutItemMap(layout)
    themap.attemptMove(QgsLayoutPoint(5, 15, QgsUnitTypes.LayoutMillimeters))
    themap.attemptResize(QgsLayoutSize(185, 150, QgsUnitTypes.LayoutMillimeters))
    themap.setLayers(loaded)
    extent = loaded[-1].extent()
    extent.scale(1.03)
    themap.setExtent(extent)
    themap.setFrameEnabled(True)
    layout.addLayoutItem(themap)
    label = QgsLayoutItemLabel(layout)
    label.setText(title)
    label.setFont(QFont("Noto Sans CJK SC", 14))
    label.attemptMove(QgsLayoutPoint(5, 4, QgsUnitTypes.LayoutMillimeters))
    label.attemptResize(QgsLayoutSize(250, 10, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(label)
    legend = QgsLayoutItemLegend(layout)
    legend.setLinkedMap(themap)
    legend.setTitle("图例")
    legend.attemptMove(QgsLayoutPoint(194, 15, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(legend)
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = 110
    result = QgsLayoutExporter(layout).exportToImage(str(png), settings)
    assert result == QgsLayoutExporter.Success, result
    print(png)


def main():
    out, shp = Path(sys.argv[1]), Path(sys.argv[2])
    app = QgsApplication([], False)
    app.initQgis()
    gpkg = out / "result.gpkg"
    render(
        [(f"{gpkg}|layername=communities", "社区 communities")],
        "QGIS 3.22 打开 result.gpkg：按状态分类的默认样式（layer_styles）",
        HERE / "qgis-result-gpkg.png",
    )
    render(
        [
            (str(shp / "gap_community_size.shp"), "社区规模缺口（gap 层）"),
            (str(shp / "communities.shp"), "社区 communities.shp (GBK)"),
        ],
        "QGIS 3.22 打开 GBK Shapefile：旁附 .qml 样式，中文正常",
        HERE / "qgis-shapefile-gbk.png",
    )
    sys.stdout.flush()
    os._exit(0)  # QGIS 3.22 may crash in exitQgis() when headless


if __name__ == "__main__":
    main()
