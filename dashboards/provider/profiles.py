"""The rule profiles the dashboard offers: an allow-list of ids, resolved on the server.

The browser only ever names a profile by its id. :class:`ProfileChoices` knows the
built-in profiles and the ones the study's config names (its ``profile`` and an
optional ``[dashboard] profiles`` list); each is loaded once when the dashboard
starts. An id outside that list raises :class:`~dashboards.provider.inputs.RejectedInput`
— a value from the browser never becomes a file path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from dashboards.provider.inputs import RejectedInput
from gridmap.rules import Profile, list_profiles, load_profile

__all__ = ["ProfileChoices"]


class ProfileChoices:
    """The allow-list of rule profiles, by id.

    Parameters
    ----------
    default
        The default profile: a built-in name, a :class:`~gridmap.rules.Profile` or the
        path of a TOML file (given by the server's config, never by the browser).
    extra
        More profiles the config names (names, paths or profiles). A configured profile
        whose id equals a built-in one replaces it.

    Attributes
    ----------
    default_id
        The id of ``default``.
    """

    def __init__(
        self,
        default: str | os.PathLike | Profile,
        extra: Iterable[str | os.PathLike | Profile] = (),
    ) -> None:
        self._profiles: dict[str, Profile] = {name: load_profile(name) for name in list_profiles()}
        configured = [load_profile(p if isinstance(p, Profile) else str(p)) for p in extra]
        first = load_profile(default if isinstance(default, Profile) else str(default))
        for p in [*configured, first]:
            self._profiles[p.id] = p
        self.default_id = first.id

    def ids(self) -> list[str]:
        """The accepted ids: the default first, then the others in name order."""
        return [self.default_id, *sorted(k for k in self._profiles if k != self.default_id)]

    def id_of(self, value: object) -> str:
        """The id of a browser value: None or ``""`` mean the default.

        Raises
        ------
        RejectedInput
            ``"input.profile"`` for anything that is not an accepted id (a path, a dict …).
        """
        if value is None or value == "":
            return self.default_id
        if isinstance(value, str) and value in self._profiles:
            return value
        raise RejectedInput("input.profile")

    def get(self, value: object) -> Profile:
        """The loaded :class:`~gridmap.rules.Profile` of a browser value (see :meth:`id_of`)."""
        return self._profiles[self.id_of(value)]

    def options(self, lang: str = "zh") -> list[dict]:
        """Dropdown options: ``{"value": id, "label": "id · title"}``, the default first."""
        out = []
        for pid in self.ids():
            p = self._profiles[pid]
            out.append(
                {"value": pid, "label": f"{pid} · {p.title_en if lang == 'en' else p.title_zh}"}
            )
        return out
