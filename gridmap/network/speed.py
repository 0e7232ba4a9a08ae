"""Walking speed: minutes ↔ metres at a walking pace (STANDARDS §6)."""

from __future__ import annotations

__all__ = ["WALK_KMH", "metres_for_minutes", "minutes_for_metres"]

#: default walking speed (STANDARDS §6: 4.5–5 km/h). Profiles state walking *distances* (GB 50180:
#: 10 minutes ≈ 500 m), not speed × time.
WALK_KMH = 4.8


def metres_for_minutes(minutes: float, *, speed_kmh: float = WALK_KMH) -> float:
    """Walking distance covered in ``minutes`` at ``speed_kmh``.

    Examples
    --------
    >>> metres_for_minutes(10)
    800.0
    >>> round(metres_for_minutes(15, speed_kmh=4.0))
    1000
    """
    if speed_kmh <= 0:
        raise ValueError(f"speed_kmh must be positive, got {speed_kmh}")
    return float(minutes) * speed_kmh * 1000.0 / 60.0


def minutes_for_metres(metres: float, *, speed_kmh: float = WALK_KMH) -> float:
    """Walking minutes for ``metres`` at ``speed_kmh``.

    Examples
    --------
    >>> minutes_for_metres(800)
    10.0
    """
    if speed_kmh <= 0:
        raise ValueError(f"speed_kmh must be positive, got {speed_kmh}")
    return float(metres) * 60.0 / (speed_kmh * 1000.0)
