"""Check results per rule profile, computed once and shared by every browser tab.

Several tabs may ask for different profiles at once: :class:`ResultCache` computes
each profile's :class:`gridmap.CheckResult` under its own lock (one check per profile,
never two), keeps the most recently used few, and keeps each result's findings per
language (English re-evaluates the rules only). What the pages derive from a result (KPIs,
counts per rule, a unit's detail, a chart) is kept with it too (:meth:`ResultCache.derived`):
computed once from the same result, dropped with it, handed out as a copy.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import pandas as pd

import gridmap
from dashboards.provider.inputs import lang_of
from dashboards.provider.profiles import ProfileChoices
from gridmap.evaluation import evaluate_units
from gridmap.lru import BoundedLRU, KeyedLocks

__all__ = ["KeyedLocks", "ResultCache", "findings_in"]

T = TypeVar("T")


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
    choices
        The profiles a browser may ask for (:class:`ProfileChoices`); ``result(None)`` is
        its default one.
    max_profiles
        How many profiles' results to keep (with their findings in both languages).
    max_derived
        How many derived values (:meth:`derived`) to keep over all profiles (least recently
        used dropped).
    """

    def __init__(
        self,
        study: Any,
        choices: ProfileChoices,
        max_profiles: int = 6,
        *,
        max_derived: int = 4096,
    ) -> None:
        self.study = study
        self.choices = choices
        self.max_profiles = max_profiles
        self.max_derived = max_derived
        self._lock = threading.RLock()
        self._results: BoundedLRU[str, Any] = BoundedLRU(
            max_profiles, on_evict=self._forget, lock=self._lock
        )
        self._findings: dict[tuple[str, str], pd.DataFrame] = {}
        self._derived: BoundedLRU[tuple, Any] = BoundedLRU(max_derived, lock=self._lock)

    def result(self, profile: str | None = None) -> Any:
        """The :class:`gridmap.CheckResult` under ``profile`` (computed once, then cached).

        Raises
        ------
        RejectedInput
            When ``profile`` is not an id of :attr:`choices`.
        """
        profile = self.choices.id_of(profile)
        return self._results.get_or_create(
            profile, lambda: gridmap.check(self.study, profile=self.choices.get(profile))
        )

    def _forget(self, profile: str, _result: Any) -> None:
        """Drop what was kept with the result of ``profile`` (dropped): findings, derived values."""
        for k in [k for k in self._findings if k[0] == profile]:
            del self._findings[k]
        for k in [k for k in self._derived.keys() if k[0] == profile]:
            self._derived.pop(k)

    def findings(self, profile: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Every finding under ``profile`` in ``lang`` (see :func:`findings_in`), cached."""
        lang = lang_of(lang)
        key = (self.choices.id_of(profile), lang)
        res = self.result(profile)
        with self._lock:
            if key in self._findings:
                return self._findings[key]
        f = findings_in(res, lang)
        with self._lock:
            self._findings[key] = f
        return f

    def derived(
        self, profile: str | None, key: Hashable, compute: Callable[[], T], *, shared: bool = False
    ) -> T:
        """A value derived from the result under ``profile``: computed once, then a copy.

        Parameters
        ----------
        profile
            The profile id (None: the default).
        key
            What is derived, with every argument it depends on besides the profile (the
            language, a unit id, …).
        compute
            Computes the value from the profile's result (and its findings); called at most
            once per key while the result is kept (twice at worst when two threads race).
        shared
            Hand out the kept value itself, not a copy: for large values every caller only
            reads (the caller promises not to change it).

        Returns
        -------
        object
            A deep copy of the kept value (the value itself when ``shared``), so a caller
            changing it changes nothing kept.

        Raises
        ------
        RejectedInput
            When ``profile`` is not an id of :attr:`choices`.
        """
        pid = self.choices.id_of(profile)
        entry = (pid, key)
        missing = object()
        value: Any = self._derived.get(entry, missing)
        if value is not missing:
            return value if shared else copy.deepcopy(value)
        self.result(pid)  # the result first: its eviction drops what is derived from it
        value = compute()
        with self._lock:
            if pid in self._results:
                self._derived.put(entry, value)
        return value if shared else copy.deepcopy(value)
