"""Why the rebalancer left a community out of the band: reason codes, and text built from them.

Each :class:`Reason` has a ``code`` (what callers decide on), the communities (and unit) it
is about, the figures it quotes (the same totals as the check: households outside every unit
included) and ``remedies``: what could help, as codes (``"hops"``, ``"time_limit"``,
``"unlock"``, ``"split_unit"``, ``"manual"``). :meth:`Reason.text` words it in Chinese or
English; where a remedy is an option of the caller's interface, ``options`` names it the way
that interface does (the Python API by default, ``hops=``; the command line passes
``--hops``).

Codes
-----
``unit_above_max``
    A unit alone has more households than the maximum.
``remainder_above_max``
    The households outside the community's units plus its smallest unit exceed the maximum.
``locked_out_of_band``
    A locked community is out of the band.
``isolated_below_min``
    Communities on an island of the graph hold fewer households together than the minimum.
``no_neighbour``
    A community below the minimum has no neighbour to merge with.
``proven_unfixable``
    The whole-map optimum is proven and leaves the community out of band.
``no_change_within_hops``
    Moves, splits and merges within ``hops`` steps cannot fix it.
``budget_exhausted``
    The whole-map solve found no fix within the work budget.
``not_found_nearby``
    No feasible move was found in the neighbourhoods tried.

Examples
--------
>>> r = Reason("unit_above_max", ("A",), unit="320505006023004",
...            values={"households": 3400, "max": 3000, "unit_kind": "grids"})
>>> r.text("zh")
'网格 320505006023004 单独就有 3,400 户 > 3,000 户：请先拆分此网格'
>>> r.text("en")
'unit 320505006023004 alone has 3,400 households > 3,000: split it first'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridmap.labels import UNIT_KIND_LABELS

__all__ = ["Reason", "REASON_CODES", "API_OPTIONS"]

#: codes of the reasons a community is left out of the band
REASON_CODES: tuple[str, ...] = (
    "unit_above_max",
    "remainder_above_max",
    "locked_out_of_band",
    "isolated_below_min",
    "no_neighbour",
    "proven_unfixable",
    "no_change_within_hops",
    "budget_exhausted",
    "not_found_nearby",
)

#: how the Python API names the options a remedy refers to (the CLI passes its flags instead)
API_OPTIONS: dict[str, str] = {"hops": "hops=", "time_limit": "time_limit="}

#: the reasons for a community the search could not fix, with the remedies that may help
_LEFT: dict[str, tuple[str, ...]] = {
    "proven_unfixable": ("hops", "unlock", "split_unit", "manual"),
    "no_change_within_hops": ("hops", "unlock", "manual"),
    "budget_exhausted": ("time_limit",),
    "not_found_nearby": ("hops", "time_limit", "unlock", "manual"),
}

_TEXT: dict[str, tuple[str, str]] = {
    "unit_above_max": (
        "{unit_zh} {unit} 单独就有 {households:,} 户 > {max:,} 户：请先拆分此{unit_zh}",
        "unit {unit} alone has {households:,} households > {max:,}: split it first",
    ),
    "remainder_above_max": (
        "{name_zh} 网格外的住户就有 {remainder:,} 户，加上最小的{unit_zh}已超过 {max:,} 户："
        "只能拆分社区",
        "{name_en}: its {remainder:,} households outside its units plus its smallest unit exceed "
        "{max:,}: only a split fixes it",
    ),
    "locked_out_of_band": (
        "{name_zh} 已锁定，但有 {households:,} 户，不在 {min:,}–{max:,} 户范围内：请解除锁定",
        "{name_en} is locked but has {households:,} households, outside {min:,}–{max:,}: unlock it",
    ),
    "isolated_below_min": (
        "{name_zh} 所在区域与其他社区不相邻，合计只有 {total:,} 户 < {min:,} 户："
        "没有可合并的相邻社区",
        "{name_en}: an area with no other community next to it, {total:,} households in all "
        "< {min:,}: no neighbour to merge with",
    ),
    "no_neighbour": (
        "{name_zh} 只有 {households:,} 户 < {min:,} 户，且没有可合并的相邻社区",
        "{name_en} has only {households:,} households < {min:,} and no neighbour it can merge with",
    ),
    "proven_unfixable": (
        "全图最优解已证明：在 {hops} 跳范围内移动{unit_zh}、保持社区连片，无法让它达标",
        "proven on the whole map: no move of units within {hops} hops that keeps communities "
        "contiguous brings it into the band",
    ),
    "no_change_within_hops": (
        "在 {hops} 跳范围内，移动、拆分与合并都无法达标",
        "no move, split or merge within {hops} hops brings it into the band",
    ),
    "budget_exhausted": (
        "全图求解在限定计算量内没有找到方案",
        "the whole-map solve found no fix within the work budget",
    ),
    "not_found_nearby": (
        "在 {hops} 跳、{rings} 圈相邻社区范围内找不到可行的移动方案",
        "no feasible move within {hops} hops and {rings} rings of neighbouring communities",
    ),
}


@dataclass(frozen=True)
class Reason:
    """Why a community (or several) is left out of the band.

    Attributes
    ----------
    code
        One of :data:`REASON_CODES`.
    communities
        The communities it is about.
    unit
        The unit it is about (``unit_above_max``).
    values
        The figures it quotes: ``households``, ``min``, ``max``, ``hops`` … and ``unit_kind``.
    remedies
        What may help: ``"hops"``, ``"time_limit"``, ``"unlock"``, ``"split_unit"``,
        ``"manual"``.
    names
        ``{community_id: 名称}`` for the text.
    """

    code: str
    communities: tuple[str, ...] = ()
    unit: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    remedies: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict, compare=False)

    def text(self, lang: str = "zh", *, options: Mapping[str, str] | None = None) -> str:
        """The reason in ``lang`` (``"zh"`` or ``"en"``), with its remedies.

        ``options`` maps the remedies ``"hops"`` and ``"time_limit"`` to how the caller's
        interface names them (default :data:`API_OPTIONS`).
        """
        en = lang == "en"
        kind = str(self.values.get("unit_kind", "grids"))
        words = {
            **self.values,
            "unit": self.unit,
            "unit_zh": UNIT_KIND_LABELS.get(kind, (kind, kind))[0],
            "name_zh": "、".join(self._name(c, "zh") for c in self.communities),
            "name_en": ", ".join(self._name(c, "en") for c in self.communities),
        }
        body = _TEXT[self.code][1 if en else 0]
        if self.code == "not_found_nearby" and words.get("rings") is None:
            body = (
                "no feasible move within {hops} hops"
                if en
                else "在 {hops} 跳范围内找不到可行的移动方案"
            )
        text = body.format(**words)
        if self.code in _LEFT:
            text = self._left(words, en) + text
        if self.remedies:
            text += ("; " if en else "；") + _remedies(
                self.remedies, words["unit_zh"], en, {**API_OPTIONS, **(options or {})}
            )
        return text

    def explanation(self, *, options: Mapping[str, str] | None = None) -> str:
        """The Chinese text followed by the English one in brackets (console and JSON)."""
        return f"{self.text('zh', options=options)} ({self.text('en', options=options)})"

    def to_dict(self) -> dict[str, Any]:
        """``code, communities, unit, values, remedies`` (JSON-serialisable)."""
        return {
            "code": self.code,
            "communities": list(self.communities),
            "unit": self.unit,
            "values": dict(self.values),
            "remedies": list(self.remedies),
        }

    def _name(self, cid: str, lang: str) -> str:
        n = self.names.get(cid)
        word = "community" if lang == "en" else "社区"
        if n and n != cid:
            return f"{word} {cid} ({n})" if lang == "en" else f"{word} {cid}（{n}）"
        return f"{word} {cid}"

    def _left(self, words: dict[str, Any], en: bool) -> str:
        """``社区 X 有 … 户（不足 …）：`` before the reason a community was left out of band."""
        small = self.values["households"] < self.values["min"]
        bound = self.values["min"] if small else self.values["max"]
        if en:
            return (
                f"{words['name_en']} has {self.values['households']:,} households "
                f"({'below' if small else 'above'} {bound:,}): "
            )
        return (
            f"{words['name_zh']} 有 {self.values['households']:,} 户"
            f"（{'不足' if small else '超出'} {bound:,}）："
        )


def _remedies(codes: tuple[str, ...], unit_zh: str, en: bool, options: Mapping[str, str]) -> str:
    """``可加大 hops= / time_limit=、解除锁定或手工调整`` from the remedy codes."""
    raise_ = [options[c] for c in codes if c in ("hops", "time_limit")]
    parts = []
    if raise_:
        parts.append(("raise " if en else "可加大 ") + " / ".join(raise_))
    words = {
        "unlock": ("解除锁定", "unlock"),
        "split_unit": (f"拆分{unit_zh}", "split a unit"),
        "manual": ("手工调整", "edit by hand"),
    }
    parts += [words[c][1 if en else 0] for c in codes if c in words]
    if len(parts) < 2:
        return "".join(parts)
    if en:
        return ", ".join(parts[:-1]) + " or " + parts[-1]
    return "、".join(parts[:-1]) + "或" + parts[-1]


def left_reason(
    code: str,
    community: str,
    *,
    households: int,
    min_households: int,
    max_households: int,
    names: Mapping[str, str],
    unit_kind: str,
    hops: int,
    rings: int | None = None,
) -> Reason:
    """The reason for a community the search could not bring into the band."""
    values: dict[str, Any] = {
        "households": int(households),
        "min": min_households,
        "max": max_households,
        "hops": hops,
        "unit_kind": unit_kind,
    }
    if code == "not_found_nearby":
        values["rings"] = rings
    return Reason(code, (community,), values=values, remedies=_LEFT[code], names=dict(names))
