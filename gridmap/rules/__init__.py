"""Rule profiles (TOML, with citations) and their evaluation into findings.

A profile is a declarative file in ``gridmap/profiles/`` (or any path) with a
``[profile]`` table and ``[[rules]]``. ``extends = "national"`` inherits the
parent's rules; a child rule with the same ``id`` replaces the parent's and
``disable = [ids]`` drops parent rules.

Rule kinds and their fields:

``range``
    ``metric``, ``min`` and/or ``max``; ``exempt_min_if`` names a flag column
    (e.g. ``sparse``, 居民分散) that exempts a unit from the minimum.
``coordinators``
    ``per``, ``min_per_unit``: required = max(min_per_unit, ceil(households / per)),
    compared with ``coordinators``.
``staff``
    ``base``, ``above``, ``step``: required = base + floor(max(0, households - above) / step)
    (one more per *full* step), compared with ``staff``; optional ``max``.
``posts``
    ``staff`` (the post's headcount column), ``base`` and ``terms``: ``{count, every}`` adds one
    post per *full* ``every`` of a count, ``{count, above, add}`` adds ``add`` posts where the
    count exceeds ``above``; a term with ``may = true`` is an allowance, shown, not required
    (:mod:`~gridmap.rules.posts`).
``floor_area``
    ``per_100``, ``min_total``, ``facility_types``, ``area_measure`` = ``"gross"`` (建筑面积,
    default) | ``"usable"`` (使用面积): required = max(min_total, per_100 * households / 100),
    compared with the sum of that measure over the community's facilities of those types;
    without a facilities layer, with the column named by ``attribute`` (e.g.
    ``floor_area_m2`` 服务用房面积, ``usable_area_m2`` 服务用房使用面积) when the rule has one.
    Only the named measure counts: 建筑面积 is never read as 使用面积 or the other way round.
``facilities``
    ``required``: facility type keys that must be present.
``ratio``
    ``numerator``, ``denominator``, ``scale`` (default 1), ``min`` and/or ``max``.
``coverage``
    ``facility_type``, ``radius_m`` (or ``minutes`` with optional ``speed_kmh``,
    default 4.8 km/h), ``mode`` = ``"straight"`` | ``"network"`` (default
    straight), ``min_share`` (default 1.0): the share of the unit's households
    within the radius of a facility of that type. Evaluated on the unit column
    ``coverage:{rule id}`` that :func:`gridmap.check` fills (with
    ``covered:{rule id}`` households); not assessed without it.

Every rule also takes ``quote`` (the clause it rests on, verbatim), ``verified = false`` with
``unverified_because`` (kept in the file; the planner sees 待核实), ``basis = "product_default"``
for a threshold the product adopts as its default from a named document (its citation then
starts with :data:`PRODUCT_DEFAULT` in every output), and ``by`` with ``[rules.variants.NAME]``
tables that override fields per unit, or say ``applies = false`` for a type the clause does
not bind (``by = "type"``: 城市 / 农村;
:mod:`~gridmap.rules.variants`). A profile's ``scope = "national"`` says it cites national
documents only.

A rule whose input is missing (no column, or a missing value for that unit) is
``not_assessed`` — never a pass.

The package: :mod:`~gridmap.rules.model` (:class:`Rule`, :class:`Profile`, :class:`SizeBand`, the
statuses and :data:`FINDING_COLUMNS`), :mod:`~gridmap.rules.profiles` (built-in profiles, reading
and validating a file, ``extends``), :mod:`~gridmap.rules.findings` (:func:`evaluate`) with the
evaluators of :mod:`~gridmap.rules.kinds`, :mod:`~gridmap.rules.posts` and
:mod:`~gridmap.rules.coverage_rule`.
"""

from __future__ import annotations

# _share_text and _rule are not public: importable here only because tests/test_coverage_bound.py
# and tests/test_coverage.py import them from this path
from gridmap.rules._text import _share_text  # noqa: F401
from gridmap.rules.coverage_rule import coverage_radius, radius_text
from gridmap.rules.findings import evaluate
from gridmap.rules.kinds import exempt_flags, required_coordinators
from gridmap.rules.model import (
    AREA_MEASURES,
    FAIL,
    FINDING_COLUMNS,
    KINDS,
    NOT_ASSESSED,
    PASS,
    Profile,
    Rule,
    SizeBand,
)
from gridmap.rules.posts import required_posts
from gridmap.rules.profiles import (  # noqa: F401
    PRODUCT_DEFAULT,
    UNVERIFIED,
    _rule,
    cited_source,
    list_profiles,
    load_profile,
)
from gridmap.rules.variants import variant_keys

__all__ = [
    "Rule",
    "Profile",
    "SizeBand",
    "list_profiles",
    "load_profile",
    "evaluate",
    "FINDING_COLUMNS",
    "KINDS",
    "PASS",
    "FAIL",
    "NOT_ASSESSED",
    "coverage_radius",
    "radius_text",
    "exempt_flags",
    "required_coordinators",
    "AREA_MEASURES",
    "UNVERIFIED",
    "PRODUCT_DEFAULT",
    "required_posts",
    "cited_source",
    "variant_keys",
]
