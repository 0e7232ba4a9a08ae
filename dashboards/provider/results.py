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
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pandas as pd

import gridmap
from dashboards.provider.inputs import lang_of
from dashboards.provider.profiles import ProfileChoices
from gridmap.evaluation import evaluate_units

__all__ = ["KeyedLocks", "ResultCache", "findings_in"]

T = TypeVar("T")


class KeyedLocks:
    """One lock per key: work on one key never waits for another's.

    A key's lock exists only while someone holds or waits for it, so the table stays as
    small as the number of keys in use (keys come from browser values).

    >>> locks = KeyedLocks()
    >>> with locks("a"):
    ...     len(locks)
    1
    >>> len(locks)
    0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Hashable, list] = {}  # key -> [lock, holders and waiters]

    def __len__(self) -> int:
        with self._lock:
            return len(self._locks)

    @contextmanager
    def __call__(self, key: Hashable) -> Iterator[None]:
        """Hold the lock of ``key`` for the ``with`` block."""
        with self._lock:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if not entry[1]:
                    del self._locks[key]


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
        self._results: OrderedDict[str, Any] = OrderedDict()
        self._findings: dict[tuple[str, str], pd.DataFrame] = {}
        self._derived: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.RLock()
        self._key_lock = KeyedLocks()

    def result(self, profile: str | None = None) -> Any:
        """The :class:`gridmap.CheckResult` under ``profile`` (computed once, then cached).

        Raises
        ------
        RejectedInput
            When ``profile`` is not an id of :attr:`choices`.
        """
        profile = self.choices.id_of(profile)
        with self._lock:
            if profile in self._results:
                self._results.move_to_end(profile)
                return self._results[profile]
        with self._key_lock(("result", profile)):
            with self._lock:
                if profile in self._results:
                    return self._results[profile]
            res = gridmap.check(self.study, profile=self.choices.get(profile))
            with self._lock:
                self._results[profile] = res
                while len(self._results) > self.max_profiles:
                    old, _ = self._results.popitem(last=False)
                    for k in [k for k in self._findings if k[0] == old]:
                        del self._findings[k]
                    for k in [k for k in self._derived if k[0] == old]:
                        del self._derived[k]
            return res

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
        with self._lock:
            if entry in self._derived:
                self._derived.move_to_end(entry)
                value = self._derived[entry]
                return value if shared else copy.deepcopy(value)
        self.result(pid)  # the result first: its eviction drops what is derived from it
        value = compute()
        with self._lock:
            if pid in self._results:
                self._derived[entry] = value
                while len(self._derived) > self.max_derived:
                    self._derived.popitem(last=False)
        return value if shared else copy.deepcopy(value)
