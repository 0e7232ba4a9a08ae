"""Coverage questions: :class:`CoverageSpec` (facility type, radius, straight line or walking)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gridmap.facilities import normalise_types
from gridmap.rules import Profile, coverage_radius, load_profile

__all__ = ["CoverageSpec", "MODES", "POLICIES", "specs_from_profile", "specs_for_types"]

#: how a distance is measured: straight line or along the walking network
MODES = ("straight", "network")
#: which facilities count: any, or only those of the household's own community
POLICIES = ("any", "own")
_TOL = 1e-6  # metres: a household at exactly the radius is covered


@dataclass(frozen=True)
class CoverageSpec:
    """One coverage question: households within ``radius_m`` of a ``facility_type``.

    ``id`` names the columns (``covered:{id}``, ``coverage:{id}``); for a profile
    rule it is the rule id.

    Examples
    --------
    >>> CoverageSpec("kg", "kindergarten", 300).mode
    'straight'
    """

    id: str
    facility_type: str
    radius_m: float
    mode: str = "straight"
    min_share: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"coverage mode must be one of {MODES}, not {self.mode!r}")
        if not self.radius_m > 0:
            raise ValueError(f"coverage radius must be positive, got {self.radius_m!r} ({self.id})")


def specs_from_profile(profile: str | Path | Profile) -> list[CoverageSpec]:
    """The coverage questions of a profile's ``coverage`` rules.

    Examples
    --------
    >>> [s.id for s in specs_from_profile("national")]
    ['community.coverage.service_station']
    """
    profile = load_profile(profile)
    return [
        CoverageSpec(
            r.id,
            r.params["facility_type"],
            coverage_radius(r),
            r.params.get("mode", "straight"),
            float(r.params.get("min_share", 1.0)),
        )
        for r in profile.rules
        if r.kind == "coverage"
    ]


def specs_for_types(
    types: Iterable[tuple[str, float]], *, modes: Iterable[str] = ("straight",)
) -> list[CoverageSpec]:
    """One spec per facility type, radius and mode, with ids ``{type}.{mode}.{radius}m``.

    Parameters
    ----------
    types : iterable of (name, radius_m)
        Facility type names as written (keys, Chinese names or aliases: they are
        normalised with :func:`gridmap.facilities.normalise_types`) and radii in metres.
    modes : iterable of {"straight", "network"}, keyword-only

    Examples
    --------
    >>> [s.id for s in specs_for_types([("幼儿园", 300), ("market", 500)], modes=["straight"])]
    ['kindergarten.straight.300m', 'market.straight.500m']
    """
    specs = []
    for name, radius in types:
        key = normalise_types(pd.Series([name.strip()]))[0].iloc[0]
        for mode in modes:
            specs.append(CoverageSpec(f"{key}.{mode}.{float(radius):g}m", key, float(radius), mode))
    return specs
