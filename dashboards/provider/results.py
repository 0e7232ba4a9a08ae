"""Check results per rule profile, computed once and shared by every browser tab.

Several tabs may ask for different profiles at once: :class:`ResultCache` computes
each profile's :class:`gridmap.CheckResult` under its own lock (one check per profile,
never two), keeps the most recently used few, and keeps each result's findings per
language (English re-evaluates the rules only).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import pandas as pd

import gridmap
from gridmap.evaluation import evaluate_units

__all__ = ["KeyedLocks", "ResultCache", "findings_in"]


class KeyedLocks:
    """One lock per key (made on first use): work on one key never waits for another's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}

    def __call__(self, key: Hashable) -> threading.Lock:
        """The lock of ``key``."""
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())


def findings_in(result: Any, lang: str) -> pd.DataFrame:
    """Every finding of ``result`` with messages and rule titles in ``lang`` (``"zh"``/``"en"``).

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult` (its findings are in Chinese).
    lang
        ``"zh"`` returns the result's findings; ``"en"`` re-evaluates the rules in English
        (QA findings are kept as they are).

    Returns
    -------
    pandas.DataFrame
        The findings, columns as ``result.findings``, a fresh ``0..n-1`` index.
    """
    if lang == "zh":
        f = result.findings
    else:
        frames = [
            evaluate_units(
                pd.DataFrame(result.communities.drop(columns="geometry")),
                result.profile,
                level="community",
                lang="en",
            ).findings
        ]
        if result.grids is not None:
            frames.append(
                evaluate_units(
                    pd.DataFrame(result.grids.drop(columns="geometry")),
                    result.profile,
                    level="grid",
                    lang="en",
                ).findings
            )
        qa = result.findings[result.findings["rule_id"].str.startswith("qa.")]
        f = pd.concat([*frames, qa], ignore_index=True)[result.findings.columns]
    return f.reset_index(drop=True)


class ResultCache:
    """The check results of one study per profile (least recently used dropped); thread-safe.

    Parameters
    ----------
    study
        A :class:`gridmap.Study`.
    default_profile
        The profile of ``result(None)``.
    max_profiles
        How many profiles' results to keep.
    """

    def __init__(self, study: Any, default_profile: str, max_profiles: int = 6) -> None:
        self.study = study
        self.default_profile = default_profile
        self.max_profiles = max_profiles
        self._results: OrderedDict[str, Any] = OrderedDict()
        self._findings: dict[tuple[str, str], pd.DataFrame] = {}
        self._lock = threading.RLock()
        self._key_lock = KeyedLocks()

    def result(self, profile: str | None = None) -> Any:
        """The :class:`gridmap.CheckResult` under ``profile`` (computed once, then cached)."""
        profile = profile or self.default_profile
        with self._lock:
            if profile in self._results:
                self._results.move_to_end(profile)
                return self._results[profile]
        with self._key_lock(("result", profile)):
            with self._lock:
                if profile in self._results:
                    return self._results[profile]
            res = gridmap.check(self.study, profile=profile)
            with self._lock:
                self._results[profile] = res
                while len(self._results) > self.max_profiles:
                    old, _ = self._results.popitem(last=False)
                    for k in [k for k in self._findings if k[0] == old]:
                        del self._findings[k]
            return res

    def findings(self, profile: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Every finding under ``profile`` in ``lang`` (see :func:`findings_in`), cached."""
        res = self.result(profile)
        key = (res.profile.id if profile is None else profile, lang)
        with self._lock:
            if key in self._findings:
                return self._findings[key]
        f = findings_in(res, lang)
        with self._lock:
            self._findings[key] = f
        return f
