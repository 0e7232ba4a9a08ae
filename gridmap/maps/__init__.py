r"""Static compliance and gap maps (matplotlib), with the furniture a report needs.

Every map has a title, a legend, a scale bar, a north arrow and a note naming
the CRS and the data sources; labels are Chinese in the bundled font
(:mod:`gridmap.fonts`), which is embedded in PDFs as TrueType (Type 42). Units are
filled with tints of the one status palette, :data:`gridmap.labels.STATUS_COLORS`.

A *map family* names what a map shows: ``"overview"`` (every community by its
overall status), a rule id with failures (``"community.size"``,
``"grid.coordinators"``, ``"community.floor_area"``, …) or
``"coverage:<spec id>"`` when coverage results are present.

Interactive maps: :func:`explore_check` / :func:`explore_plan` (``CheckResult.explore``,
``Plan.explore``) return an offline :class:`folium.Map` (:mod:`~gridmap.maps.explore`;
Leaflet inlined by :mod:`~gridmap.maps.offline`), the map of the HTML report too.

Labels never overlap: :func:`place_labels` writes each in full where it fits (shifted
with a leader line if need be) and numbers the rest for a key table (:func:`draw_key`).

Modules: :mod:`~gridmap.maps.families` (which maps, their titles),
:mod:`~gridmap.maps.spec` (a map as data), :mod:`~gridmap.maps.furniture` (style,
scale bar, north arrow, legend, source note), :mod:`~gridmap.maps.draw` (drawing,
figures, PNG); the spec of each family is built in ``_builders``.

>>> import gridmap
>>> from gridmap import datasets, maps
>>> result = gridmap.check(gridmap.read_study(**datasets.demo_config()))
>>> maps.map_families(result)[:3]
['overview', 'community.size', 'grid.coordinators']
>>> png = maps.map_png(result, "community.size", dpi=60)
>>> png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
True
"""

from __future__ import annotations

from gridmap.maps._builders import status_fill
from gridmap.maps.draw import RASTERIZE_ABOVE, TITLE_GID, draw_map, map_figure, map_png
from gridmap.maps.explore import explore_check, explore_plan
from gridmap.maps.families import coverage_gaps, family_rule, family_title, map_families
from gridmap.maps.furniture import add_legend, source_note, style
from gridmap.maps.offline import make_offline
from gridmap.maps.placement import LabelKey, draw_key, place_labels
from gridmap.maps.spec import MAX_LABELS, MapLayer, MapSpec, label_points

__all__ = [
    "MAX_LABELS",
    "LabelKey",
    "RASTERIZE_ABOVE",
    "TITLE_GID",
    "MapLayer",
    "MapSpec",
    "add_legend",
    "coverage_gaps",
    "draw_key",
    "draw_map",
    "explore_check",
    "explore_plan",
    "family_rule",
    "family_title",
    "label_points",
    "make_offline",
    "map_families",
    "map_figure",
    "map_png",
    "place_labels",
    "source_note",
    "status_fill",
    "style",
]
