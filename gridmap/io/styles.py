"""Default layer styles stored with the data: QGIS QML and OGC SLD, categorised by status.

The maps of the PDF and the dashboard fill a unit with a tint of its status colour
(:data:`gridmap.labels.STATUS_COLORS`, :func:`gridmap.labels.tint`) and name the status
with :data:`gridmap.labels.STATUS_LABELS`; the styles here do the same, read from
:mod:`gridmap.labels` when a file is written, so a layer opened in QGIS (or GeoServer,
from the SLD) shows the legend of the report.

>>> style = status_style("状态", chinese=True, label_field="社区名称")
>>> [c.value for c in style.categories]
['合规', '仅警告项不合规', '不合规', '未评估']
>>> 'type="categorizedSymbol"' in style.qml(), "<ogc:Literal>不合规</ogc:Literal>" in style.sld("x")
(True, True)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from gridmap import labels

__all__ = ["Category", "LayerStyle", "gap_style", "size_style", "status_style"]

#: Unit borders, as on the report maps.
EDGE = "#4d4d4d"
#: Label font: what planners' Windows machines have; QGIS substitutes a CJK font elsewhere.
FONT = "Microsoft YaHei"
_GEOMETRIES = ("polygon", "line", "point")
_QGIS_GEOMETRY = {"point": "0", "line": "1", "polygon": "2"}  # QgsWkbTypes::GeometryType


@dataclass(frozen=True)
class Category:
    """One class of a categorised style: features whose field equals ``value``."""

    value: str
    label: str
    color: str


@dataclass(frozen=True)
class LayerStyle:
    """A layer's default style: categorised by ``field`` or, without it, one symbol.

    Parameters
    ----------
    name
        Style name shown in QGIS's style manager.
    geometry
        ``"polygon"``, ``"line"`` or ``"point"``.
    field
        Column the categories are matched on (None: one symbol of ``color``).
    categories
        The classes, in legend order.
    color
        Fill of the single symbol.
    label_field
        Column drawn as label (None: no labels).
    """

    name: str
    geometry: str = "polygon"
    field: str | None = None
    categories: tuple[Category, ...] = ()
    color: str = "#d73027"
    label_field: str | None = None

    def __post_init__(self) -> None:
        if self.geometry not in _GEOMETRIES:
            raise ValueError(f"geometry must be one of {_GEOMETRIES}, not {self.geometry!r}")

    def qml(self) -> str:
        """The style as a QGIS ``.qml`` document (QGIS 3.x; what ``layer_styles`` holds)."""
        root = ET.Element(
            "qgis",
            version="3.22.0",
            styleCategories="Symbology|Labeling",
            labelsEnabled="1" if self.label_field else "0",
        )
        if self.field is None:
            renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0")
            symbols = ET.SubElement(renderer, "symbols")
            symbols.append(self._qml_symbol("0", self.color))
        else:
            renderer = ET.SubElement(
                root, "renderer-v2", type="categorizedSymbol", attr=self.field, symbollevels="0"
            )
            cats = ET.SubElement(renderer, "categories")
            symbols = ET.SubElement(renderer, "symbols")
            for i, cat in enumerate(self.categories):
                ET.SubElement(
                    cats, "category", render="true", symbol=str(i), value=cat.value, label=cat.label
                )
                symbols.append(self._qml_symbol(str(i), cat.color))
        if self.label_field:
            root.append(self._qml_labeling(self.label_field))
        ET.SubElement(root, "layerGeometryType").text = _QGIS_GEOMETRY[self.geometry]
        body = ET.tostring(root, encoding="unicode")
        return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"

    def _qml_symbol(self, name: str, color: str) -> ET.Element:
        kind = {"polygon": "fill", "line": "line", "point": "marker"}[self.geometry]
        symbol = ET.Element("symbol", type=kind, name=name, alpha="1", clip_to_extent="1")
        if self.geometry == "polygon" and self.field is None:  # a gap: hatched, red border
            cls = "SimpleFill"
            props = {
                "color": _rgba(color),
                "style": "b_diagonal",
                "outline_color": _rgba(color),
                "outline_style": "solid",
                "outline_width": "0.6",
                "outline_width_unit": "MM",
                "joinstyle": "bevel",
            }
        elif self.geometry == "polygon":
            cls = "SimpleFill"
            props = {
                "color": _rgba(labels.tint(color)),
                "style": "solid",
                "outline_color": _rgba(EDGE),
                "outline_style": "solid",
                "outline_width": "0.26",
                "outline_width_unit": "MM",
                "joinstyle": "bevel",
            }
        elif self.geometry == "line":
            cls = "SimpleLine"
            props = {"line_color": _rgba(color), "line_width": "0.6", "line_width_unit": "MM"}
        else:
            cls = "SimpleMarker"
            props = {
                "name": "circle",
                "color": _rgba(color),
                "outline_color": "255,255,255,255",
                "outline_width": "0.2",
                "size": "2.4",
                "size_unit": "MM",
            }
        layer = ET.SubElement(
            symbol, "layer", attrib={"class": cls, "pass": "0", "enabled": "1", "locked": "0"}
        )
        for k, v in props.items():
            ET.SubElement(layer, "prop", k=k, v=v)
        return symbol

    @staticmethod
    def _qml_labeling(field: str) -> ET.Element:
        labeling = ET.Element("labeling", type="simple")
        settings = ET.SubElement(labeling, "settings", calloutType="simple")
        ET.SubElement(
            settings,
            "text-style",
            fieldName=field,
            isExpression="0",
            fontFamily=FONT,
            fontSize="8",
            fontSizeUnit="Point",
            textColor="0,0,0,255",
            textOpacity="1",
            namedStyle="Regular",
        )
        ET.SubElement(
            settings,
            "text-buffer",
            bufferDraw="1",
            bufferSize="0.8",
            bufferSizeUnits="MM",
            bufferColor="255,255,255,255",
            bufferOpacity="0.8",
        )
        ET.SubElement(
            settings, "placement", placement="1", centroidInside="1", fitInPolygonOnly="0"
        )
        ET.SubElement(settings, "rendering", obstacle="1", displayAll="0", fontLimitPixelSize="0")
        return labeling

    def sld(self, layer: str) -> str:
        """The style as an OGC SLD 1.0 document (GeoServer, ArcGIS Pro's importer, QGIS)."""
        ET.register_namespace("", _SLD)
        ET.register_namespace("ogc", _OGC)
        root = ET.Element(_q(_SLD, "StyledLayerDescriptor"), version="1.0.0")
        named = ET.SubElement(root, _q(_SLD, "NamedLayer"))
        ET.SubElement(named, _q(_SLD, "Name")).text = layer
        user = ET.SubElement(named, _q(_SLD, "UserStyle"))
        ET.SubElement(user, _q(_SLD, "Name")).text = self.name
        ET.SubElement(user, _q(_SLD, "Title")).text = self.name
        fts = ET.SubElement(user, _q(_SLD, "FeatureTypeStyle"))
        if self.field is None:
            self._sld_rule(fts, self.name, None, self.color)
        else:
            for cat in self.categories:
                self._sld_rule(fts, cat.label, cat.value, cat.color)
        if self.label_field:
            self._sld_labels(fts)
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    def _sld_rule(self, fts: ET.Element, title: str, value: str | None, color: str) -> None:
        rule = ET.SubElement(fts, _q(_SLD, "Rule"))
        ET.SubElement(rule, _q(_SLD, "Name")).text = title
        ET.SubElement(rule, _q(_SLD, "Title")).text = title
        if value is not None and self.field is not None:
            equal = ET.SubElement(
                ET.SubElement(rule, _q(_OGC, "Filter")), _q(_OGC, "PropertyIsEqualTo")
            )
            ET.SubElement(equal, _q(_OGC, "PropertyName")).text = self.field
            ET.SubElement(equal, _q(_OGC, "Literal")).text = value
        if self.geometry == "polygon" and self.field is None:  # a gap: see-through, red border
            sym = ET.SubElement(rule, _q(_SLD, "PolygonSymbolizer"))
            _css(ET.SubElement(sym, _q(_SLD, "Fill")), fill=color, **{"fill-opacity": "0.35"})
            _css(ET.SubElement(sym, _q(_SLD, "Stroke")), stroke=color, **{"stroke-width": "2"})
        elif self.geometry == "polygon":
            sym = ET.SubElement(rule, _q(_SLD, "PolygonSymbolizer"))
            _css(ET.SubElement(sym, _q(_SLD, "Fill")), fill=labels.tint(color))
            _css(ET.SubElement(sym, _q(_SLD, "Stroke")), stroke=EDGE, **{"stroke-width": "1"})
        elif self.geometry == "line":
            sym = ET.SubElement(rule, _q(_SLD, "LineSymbolizer"))
            _css(ET.SubElement(sym, _q(_SLD, "Stroke")), stroke=color, **{"stroke-width": "2"})
        else:
            sym = ET.SubElement(rule, _q(_SLD, "PointSymbolizer"))
            graphic = ET.SubElement(sym, _q(_SLD, "Graphic"))
            mark = ET.SubElement(graphic, _q(_SLD, "Mark"))
            ET.SubElement(mark, _q(_SLD, "WellKnownName")).text = "circle"
            _css(ET.SubElement(mark, _q(_SLD, "Fill")), fill=color)
            _css(ET.SubElement(mark, _q(_SLD, "Stroke")), stroke="#ffffff")
            ET.SubElement(graphic, _q(_SLD, "Size")).text = "7"

    def _sld_labels(self, fts: ET.Element) -> None:
        rule = ET.SubElement(fts, _q(_SLD, "Rule"))
        text = ET.SubElement(rule, _q(_SLD, "TextSymbolizer"))
        label = ET.SubElement(text, _q(_SLD, "Label"))
        ET.SubElement(label, _q(_OGC, "PropertyName")).text = self.label_field
        font = ET.SubElement(text, _q(_SLD, "Font"))
        _css(font, **{"font-family": FONT, "font-size": "11"})
        halo = ET.SubElement(text, _q(_SLD, "Halo"))
        ET.SubElement(halo, _q(_SLD, "Radius")).text = "1"
        _css(ET.SubElement(halo, _q(_SLD, "Fill")), fill="#ffffff")
        _css(ET.SubElement(text, _q(_SLD, "Fill")), fill="#000000")


_SLD = "http://www.opengis.net/sld"
_OGC = "http://www.opengis.net/ogc"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _css(parent: ET.Element, **params: str) -> None:
    for name, value in params.items():
        ET.SubElement(parent, _q(_SLD, "CssParameter"), name=name).text = value


def _rgba(color: str) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,255``."""
    return ",".join(str(int(color[i : i + 2], 16)) for i in (1, 3, 5)) + ",255"


def status_style(
    field: str = "status",
    *,
    chinese: bool = False,
    geometry: str = "polygon",
    label_field: str | None = None,
) -> LayerStyle:
    """The style of a layer of units with a status: categories of the report's palette.

    Parameters
    ----------
    field
        Column holding the status.
    chinese
        The column holds the Chinese names (``"不合规"``); otherwise the codes (``"fail"``).
    geometry
        ``"polygon"`` (default), ``"line"`` or ``"point"``.
    label_field
        Column drawn as label (e.g. the unit's name), or None.

    Returns
    -------
    LayerStyle
        One category per status of :data:`gridmap.labels.STATUS_ORDER`, legend labels in Chinese.
    """
    categories = tuple(
        Category(
            value=labels.status_label(s) if chinese else s,
            label=labels.status_label(s),
            color=labels.STATUS_COLORS[s],
        )
        for s in labels.STATUS_ORDER
    )
    return LayerStyle(
        name="按状态分类 (status)",
        geometry=geometry,
        field=field,
        categories=categories,
        label_field=label_field,
    )


def gap_style(*, geometry: str = "polygon", label_field: str | None = None) -> LayerStyle:
    """The style of a gap layer (failing units, uncovered cells): one symbol of the fail colour.

    Parameters
    ----------
    geometry
        ``"polygon"`` (default), ``"line"`` or ``"point"``.
    label_field
        Column drawn as label, or None.

    Returns
    -------
    LayerStyle
        A single symbol in :data:`gridmap.labels.STATUS_COLORS` ``["fail"]``: polygons
        hatched with a red border (QML) or see-through red (SLD), so the units below show.
    """
    return LayerStyle(
        name="缺口 (gap)",
        geometry=geometry,
        color=labels.STATUS_COLORS["fail"],
        label_field=label_field,
    )


def size_style(field: str = "status", *, label_field: str | None = None) -> LayerStyle:
    """The style of a plan's communities by size status (``pass``/``too_small``/``too_large``).

    Parameters
    ----------
    field
        Column holding the size status codes.
    label_field
        Column drawn as label, or None.

    Returns
    -------
    LayerStyle
        合规 and 未评估 as in :func:`status_style`; 户数过少 in the warning colour and
        过大 in the fail colour of :data:`gridmap.labels.STATUS_COLORS`.
    """
    colors = labels.STATUS_COLORS
    categories = (
        Category("pass", labels.status_label("pass"), colors["pass"]),
        Category("too_small", "过小", colors["warning"]),
        Category("too_large", "过大", colors["fail"]),
        Category("not_assessed", labels.status_label("not_assessed"), colors["not_assessed"]),
    )
    return LayerStyle(
        name="按规模分类 (size)", field=field, categories=categories, label_field=label_field
    )
