"""The rule model: :class:`Rule`, :class:`Profile`, :class:`SizeBand` and the finding vocabulary.

Plain frozen dataclasses; reading them from TOML is :mod:`gridmap.rules.profiles`, applying
them to units is :mod:`gridmap.rules.findings`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from gridmap.columns import AREA_MEASURES
from gridmap.rules._text import _fmt

__all__ = [
    "PASS",
    "FAIL",
    "NOT_ASSESSED",
    "FINDING_COLUMNS",
    "KINDS",
    "AREA_MEASURES",
    "Rule",
    "Profile",
    "SizeBand",
]

PASS, FAIL, NOT_ASSESSED = "pass", "fail", "not_assessed"
#: the columns of a findings table, in order
FINDING_COLUMNS = [
    "level",
    "unit_id",
    "unit_name",
    "rule_id",
    "value",
    "threshold",
    "status",
    "gap",
    "message",
    "source",
    "severity",
    "rule_title",
]
#: the rule kinds a profile may use
KINDS = (
    "range",
    "coordinators",
    "staff",
    "posts",
    "floor_area",
    "facilities",
    "ratio",
    "coverage",
)


@dataclass(frozen=True)
class Rule:
    """One rule of a profile; ``params`` holds the kind-specific fields.

    ``source`` is the citation a planner sees (document, number, clause, the quoted clause,
    and 待核实 when the threshold is not verified against its text); ``citation`` and
    ``quote`` are its two parts as the profile file gives them. ``basis`` is
    ``"product_default"`` for a threshold the product adopts as its default from a named
    document, else empty. ``variants`` (in ``params``) select a threshold per unit by the
    column named ``by`` (e.g. ``type`` 城市/农村).
    """

    id: str
    level: str
    kind: str
    title_zh: str
    title_en: str
    source: str
    severity: str = "error"
    unit: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    citation: str = ""
    quote: str = ""
    verified: bool = True
    basis: str = ""

    def title(self, lang: str = "zh") -> str:
        """The rule's title in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.title_en if lang == "en" else self.title_zh

    def inputs(self) -> tuple[str, ...]:
        """The unit columns this rule reads (for 'not assessed' reasons)."""
        p = self.params
        return {
            "range": (p.get("metric", ""),),
            "coordinators": ("households", "coordinators"),
            "staff": ("households", "staff"),
            "posts": (
                p.get("staff", ""),
                *(t.get("count", "") for t in p.get("terms", ()) if not t.get("may", False)),
            ),
            "floor_area": ("households", p.get("attribute", "facility_types")),
            "facilities": ("facility_types",),
            "ratio": (p.get("numerator", ""), p.get("denominator", "")),
            "coverage": (f"coverage:{self.id}",),
        }[self.kind]


@dataclass(frozen=True)
class Profile:
    """A named, ordered set of rules.

    ``scope`` is ``"national"`` for a profile that may cite national documents only (apart
    from rules whose ``basis`` is ``"product_default"``), else empty.
    """

    id: str
    title_zh: str
    title_en: str
    rules: tuple[Rule, ...]
    description_zh: str = ""
    description_en: str = ""
    path: str = ""
    extends: str = ""
    scope: str = ""

    def rule(self, rule_id: str) -> Rule:
        """The rule with id ``rule_id``; KeyError (listing the ids) when there is none."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(
            f"profile {self.id!r} has no rule {rule_id!r}; rules: {[r.id for r in self.rules]}"
        )

    def first(self, kind: str, level: str) -> Rule | None:
        """The first rule of ``kind`` at ``level``, None when there is none."""
        return next((r for r in self.rules if r.kind == kind and r.level == level), None)

    def size_band(self) -> SizeBand | None:
        """The community household band; None when the profile has none.

        The band is the ``community.size`` rule, else the first community ``range`` rule on
        ``households``. It is the one source of the band for plans, the rebalancer, reports
        and the dashboard.

        Examples
        --------
        >>> from gridmap.rules import load_profile
        >>> load_profile("hangzhou-2008").size_band()
        SizeBand(min=1500, max=3000, exempt_min_if=None, rule_id='community.size')
        """
        ranges = [
            r
            for r in self.rules
            if r.level == "community"
            and r.kind == "range"
            and r.params.get("metric") == "households"
        ]
        default = ranges[0] if ranges else None
        rule = next((r for r in ranges if r.id == "community.size"), default)
        if rule is None:
            return None
        p = rule.params
        return SizeBand(
            min=p.get("min"),
            max=p.get("max"),
            exempt_min_if=p.get("exempt_min_if"),
            rule_id=rule.id,
        )

    def with_band(
        self,
        *,
        min: float | None = None,
        max: float | None = None,  # noqa: A002
    ) -> Profile:
        """A copy whose band rule (:meth:`size_band`) has ``min`` and/or ``max`` replaced.

        An explicit override (e.g. ``min_households=`` of a plan's rebalance) that the rule,
        the KPIs and the solver all see. The copy's id says so (``national[1200–3000]``).

        Examples
        --------
        >>> from gridmap.rules import load_profile
        >>> p = load_profile("national").with_band(min=1200)
        >>> p.id, p.size_band().min, p.rule("community.size").params["min"]
        ('national[1200–3000]', 1200, 1200)
        """
        band = self.size_band()
        if band is None:
            raise ValueError(f"profile {self.id!r} has no household band to override")
        rule = self.rule(band.rule_id)
        params = dict(rule.params)
        if min is not None:
            params["min"] = min
        if max is not None:
            params["max"] = max
        rules = tuple(replace(rule, params=params) if r.id == rule.id else r for r in self.rules)
        return replace(self, id=f"{self.id}[{params.get('min')}–{params.get('max')}]", rules=rules)


@dataclass(frozen=True)
class SizeBand:
    """A household band ``min``–``max`` 户 (either may be None) with its minimum exemption flag.

    :meth:`classify` gives ``pass`` / ``too_small`` / ``too_large`` / ``not_assessed``
    with the same comparisons as the profile's range rule.
    """

    min: float | None
    max: float | None
    exempt_min_if: str | None = None
    rule_id: str = "community.size"

    @property
    def lower(self) -> int:
        """The minimum as an integer (0 when there is none), for solvers."""
        return 0 if self.min is None else int(math.ceil(self.min))

    @property
    def upper(self) -> int:
        """The maximum as an integer (a very large number when there is none), for solvers."""
        return 2**62 if self.max is None else int(math.floor(self.max))

    def label(self, lang: str = "zh") -> str:
        """The band as text, e.g. ``1,000–3,000 户``.

        Examples
        --------
        >>> SizeBand(1500, 3000).label(), SizeBand(1000, None).label("en")
        ('1,500–3,000 户', '≥1,000 households')
        """
        unit = " 户" if lang == "zh" else " households"
        if self.min is not None and self.max is not None:
            return f"{_fmt(self.min)}–{_fmt(self.max)}{unit}"
        if self.min is not None:
            return f"≥{_fmt(self.min)}{unit}"
        return f"≤{_fmt(self.max)}{unit}" if self.max is not None else ""

    def classify(
        self, households: npt.ArrayLike, exempt: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.str_]:
        """Status per unit.

        ``too_small`` (below the minimum and not exempt), ``too_large``, ``pass``, or
        ``not_assessed`` where households is missing.

        Examples
        --------
        >>> SizeBand(1000, 3000).classify([999, 1000, 3001, float("nan")]).tolist()
        ['too_small', 'pass', 'too_large', 'not_assessed']
        """
        h = np.asarray(households, dtype="float64")
        none = np.zeros(len(h), dtype=bool)
        ex = none if exempt is None else np.asarray(exempt, dtype=bool)
        small = (h < self.min - 1e-9) & ~ex if self.min is not None else none
        large = h > self.max + 1e-9 if self.max is not None else none
        return np.where(
            np.isnan(h),
            NOT_ASSESSED,
            np.where(small, "too_small", np.where(large, "too_large", PASS)),
        )
