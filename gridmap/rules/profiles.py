"""Profile files: the built-in ones, reading a TOML file, ``extends``/``disable``, validation.

Every problem of a profile file raises ``ValueError`` naming the file, the rule and the field.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridmap._toml import tomllib
from gridmap.rules.coverage_rule import coverage_radius
from gridmap.rules.model import AREA_MEASURES, KINDS, Profile, Rule
from gridmap.rules.posts import term_fields_problem

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = ["list_profiles", "load_profile", "cited_source", "UNVERIFIED", "PRODUCT_DEFAULT"]

#: the fields every rule needs
_COMMON = ("id", "level", "kind", "title_zh", "title_en", "source")
#: the fields about a rule's citation (not parameters of its kind)
_CITING = ("quote", "verified", "unverified_because", "basis")
#: the values of ``basis``: a threshold the product adopts as its default from a named document
_BASES = ("", "product_default")
#: the mark a planner sees on a threshold not yet verified against its source text
UNVERIFIED = "待核实"
#: how the citation of a ``basis = "product_default"`` rule starts, in every output
PRODUCT_DEFAULT = "本工具默认值，取自"
#: the fields a variant table may set besides the kind's parameters
_VARIANT_FIELDS = ("label_zh", "label_en", "applies")
#: the fields each kind needs
_NEEDS = {
    "range": ("metric",),
    "coordinators": ("per",),
    "staff": ("base", "above", "step"),
    "posts": ("staff",),
    "floor_area": ("per_100",),
    "facilities": ("required",),
    "ratio": ("numerator", "denominator"),
    "coverage": ("facility_type",),
}


def _builtin_dir() -> Traversable:
    return files("gridmap").joinpath("profiles")


def list_profiles() -> list[str]:
    """Names of the built-in profiles.

    Examples
    --------
    >>> "national" in list_profiles()
    True
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """The TOML table of a built-in profile name or a file path, and where it came from."""
    text_path = str(name_or_path)
    if text_path.endswith(".toml") or Path(text_path).exists():
        path = Path(text_path)
        if not path.exists():
            raise ValueError(f"规则文件不存在 / profile file not found: {path}")
        return tomllib.loads(path.read_text(encoding="utf-8")), str(path)
    res = _builtin_dir().joinpath(f"{text_path}.toml")
    if not res.is_file():
        raise ValueError(
            f"未知的规则配置 {text_path!r} / unknown profile; built-in profiles: "
            f"{', '.join(list_profiles())}; or pass the path of a .toml file"
        )
    return tomllib.loads(res.read_text(encoding="utf-8")), f"gridmap/profiles/{text_path}.toml"


def _rule(data: dict[str, Any], where: str) -> Rule:
    """One ``[[rules]]`` table as a :class:`Rule`, after checking its fields."""
    missing = [k for k in _COMMON if not data.get(k)]
    if missing:
        raise ValueError(
            f"{where}: rule {data.get('id', '?')!r} lacks {missing} "
            f"(every rule needs {list(_COMMON)})"
        )
    rid, kind = data["id"], data["kind"]
    if kind not in KINDS:
        raise ValueError(f"{where}: rule {rid!r} has unknown kind {kind!r}; kinds: {list(KINDS)}")
    if data["level"] not in ("community", "grid"):
        raise ValueError(f"{where}: rule {rid!r} level must be 'community' or 'grid'")
    params = {k: v for k, v in data.items() if k not in (*_COMMON, *_CITING, "severity", "unit")}
    if "variants" not in params:
        _check_params(rid, kind, data["level"], params, where)
    elif "by" not in params or not isinstance(params["variants"], dict):
        raise ValueError(f"{where}: rule {rid!r}: variants need by = COLUMN and tables of fields")
    for name, overrides in params.get("variants", {}).items():
        _check_variant(rid, kind, data["level"], params, name, overrides, where)
    verified = data.get("verified", True)
    if not isinstance(verified, bool):
        raise ValueError(f"{where}: rule {rid!r}: verified must be true or false")
    if not verified and not data.get("unverified_because"):
        raise ValueError(
            f"{where}: rule {rid!r} has verified = false: say why in unverified_because"
        )
    basis = data.get("basis", "")
    if basis not in _BASES:
        raise ValueError(f"{where}: rule {rid!r}: basis must be one of {list(_BASES)}")
    quote = str(data.get("quote", "")).strip()
    citation = str(data["source"]).strip()
    if basis == "product_default" and not citation.startswith(PRODUCT_DEFAULT):
        # the planner is always told that the figure is the product's choice, not the document's
        citation = PRODUCT_DEFAULT + citation
    return Rule(
        id=rid,
        level=data["level"],
        kind=kind,
        title_zh=data["title_zh"],
        title_en=data["title_en"],
        source=cited_source(citation, quote, verified=verified),
        severity=data.get("severity", "error"),
        unit=data.get("unit", ""),
        params=params,
        citation=citation,
        quote=quote,
        verified=verified,
        basis=basis,
    )


def cited_source(citation: str, quote: str, *, verified: bool = True) -> str:
    """The citation a planner sees: document and clause, the quoted clause, 待核实 if unverified.

    Examples
    --------
    >>> cited_source("紫发〔2018〕7号 二（三）", "新设置的社区……", verified=False)
    '紫发〔2018〕7号 二（三）：“新设置的社区……”（待核实）'
    """
    text = f"{citation}：“{quote}”" if quote else citation
    return text if verified else f"{text}（{UNVERIFIED}）"


def _check_variant(
    rid: str, kind: str, level: str, params: dict[str, Any], name: str, fields: object, where: str
) -> None:
    """One ``[rules.variants.NAME]`` table: the kind's fields it sets, or ``applies = false``."""
    where = f"{where} variant {name!r}"
    if not isinstance(fields, dict):
        raise ValueError(f"{where}: rule {rid!r}: the variant must be a table of fields")
    if not isinstance(fields.get("applies", True), bool):
        raise ValueError(f"{where}: rule {rid!r}: applies must be true or false")
    if fields.get("applies", True) is False:
        return  # the rule does not apply to units of this variant: nothing to check
    if "kind" in fields:
        raise ValueError(f"{where}: rule {rid!r}: a variant cannot change the kind ({kind!r})")
    variant = {k: v for k, v in fields.items() if k not in _VARIANT_FIELDS}
    base = {k: v for k, v in params.items() if k != "variants"}
    _check_params(rid, kind, level, {**base, **variant, "variants": {}}, where)


def _check_params(rid: str, kind: str, level: str, params: dict[str, Any], where: str) -> None:
    """The kind-specific fields of one rule (or one of its variants)."""
    lacking = [k for k in _NEEDS[kind] if k not in params]
    if lacking:
        raise ValueError(f"{where}: rule {rid!r} of kind {kind!r} lacks {lacking}")
    if kind in ("range", "ratio") and "min" not in params and "max" not in params:
        raise ValueError(f"{where}: rule {rid!r} needs min and/or max")
    if kind == "floor_area" and params.get("area_measure", "gross") not in AREA_MEASURES:
        raise ValueError(
            f"{where}: rule {rid!r}: area_measure must be one of {list(AREA_MEASURES)}"
        )
    if "by" in params and "variants" not in params:
        raise ValueError(f"{where}: rule {rid!r}: by = {params['by']!r} needs [rules.variants.*]")
    if kind == "posts":
        problem = term_fields_problem(params.get("terms", []))
        if problem:
            raise ValueError(f"{where}: rule {rid!r}: {problem}")
    if kind == "coverage":
        _check_coverage(rid, level, params, where)


def _check_coverage(rid: str, level: str, params: dict[str, Any], where: str) -> None:
    """The fields of a coverage rule: one of radius_m/minutes, the mode, the share, the radius."""
    if ("radius_m" in params) == ("minutes" in params):
        raise ValueError(f"{where}: coverage rule {rid!r} needs radius_m or minutes (one of them)")
    if params.get("mode", "straight") not in ("straight", "network"):
        raise ValueError(
            f"{where}: coverage rule {rid!r}: mode must be 'straight' or 'network', "
            f"not {params['mode']!r}"
        )
    share = params.get("min_share", 1.0)
    if not 0 <= share <= 1:
        raise ValueError(
            f"{where}: coverage rule {rid!r}: min_share must be within 0–1, got {share}"
        )
    try:
        radius = coverage_radius(Rule(rid, level, "coverage", "", "", "", params=params))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: coverage rule {rid!r}: {exc}") from exc
    if not radius > 0:
        raise ValueError(f"{where}: coverage rule {rid!r}: the radius must be positive")


def load_profile(
    name_or_path: str | Path | Profile = "national", *, _seen: tuple[str, ...] = ()
) -> Profile:
    """Load a built-in profile by name or a user's TOML file, resolving ``extends``.

    Parameters
    ----------
    name_or_path
        A built-in profile name (:func:`list_profiles`), the path of a ``.toml`` file, or a
        :class:`Profile` (returned as is).

    Returns
    -------
    Profile
        The rules in order: the parent's (less ``disable``), a child rule with a parent
        rule's id in the parent rule's place, then the child's own.

    Examples
    --------
    >>> p = load_profile("national")
    >>> p.rule("community.size").params["max"]
    3000
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    data, where = _read(name_or_path)
    head = data.get("profile", {})
    pid = head.get("id") or Path(where).stem
    if pid in _seen:
        raise ValueError(f"profile {pid!r}: circular extends ({' -> '.join((*_seen, pid))})")
    rules: list[Rule] = []
    parent = head.get("extends")
    if parent:
        rules = list(load_profile(parent, _seen=(*_seen, pid)).rules)
    disabled = set(head.get("disable", ()))
    unknown = disabled - {r.id for r in rules}
    if unknown:
        raise ValueError(
            f"{where}: disable names rules the parent does not have: {sorted(unknown)}"
        )
    rules = [r for r in rules if r.id not in disabled]
    for i, item in enumerate(data.get("rules", [])):
        rule = _rule(item, f"{where} [[rules]] #{i + 1}")
        pos = next((j for j, r in enumerate(rules) if r.id == rule.id), None)
        if pos is None:
            rules.append(rule)
        else:
            rules[pos] = rule
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{where}: duplicate rule ids {dupes}")
    return Profile(
        id=pid,
        title_zh=head.get("title_zh", pid),
        title_en=head.get("title_en", pid),
        rules=tuple(rules),
        description_zh=head.get("description_zh", ""),
        description_en=head.get("description_en", ""),
        path=where,
        extends=parent or "",
        scope=head.get("scope", ""),
    )
