"""Every string of the dashboard is translated: walk the source for the keys it asks for and
the i18n tables (:data:`dashboards.i18n.WORDS`, :data:`dashboards.messages.MESSAGES`)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from dashboards.i18n import WORDS
from dashboards.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[1] / "dashboards"
SOURCES = sorted(ROOT.rglob("*.py"))
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _calls(name: str):
    """(file, line, first argument) of every call of ``name`` (a bare name) in dashboards/."""
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == name
                and node.args
            ):
                at = path.relative_to(ROOT.parent), node.lineno
                yield *at, node.args[0]
                for kw in node.keywords:  # what="what.radius": a key of the same table
                    if kw.arg == "what":
                        yield *at, kw.value


def _asked(name: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The literal keys and the f-string key prefixes passed to ``name``."""
    literal, prefixes = set(), set()
    for where, line, arg in _calls(name):
        at = f"{where}:{line}"
        if isinstance(arg, ast.JoinedStr):
            head = arg.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                prefixes.add((at, head.value))
            continue
        for node in ast.walk(arg):  # a constant, or constants inside `a if x else b`
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if KEY.match(node.value):
                    literal.add((at, node.value))
    return literal, prefixes


@pytest.mark.parametrize(("func", "table"), [("t", WORDS), ("RejectedInput", MESSAGES)])
def test_every_key_the_pages_ask_for_exists(func, table):
    literal, prefixes = _asked(func)
    assert literal, f"no {func}() call found: the walker is broken"
    missing = sorted(f"{at}: {key}" for at, key in literal if key not in table)
    assert missing == [], "keys missing from the i18n table:\n" + "\n".join(missing)
    loose = sorted(f"{at}: {p}…" for at, p in prefixes if not any(k.startswith(p) for k in table))
    assert loose == [], "f-string keys with no entry at all:\n" + "\n".join(loose)


def test_families_of_keys_built_at_run_time_are_complete():
    """Keys the code builds from values (statuses, rebalance outcomes, ops) exist for each."""
    from dashboards.provider.plan_views import BAND_ORDER
    from gridmap.labels import STATUS_LABELS

    need = [f"status.{s}" for s in STATUS_LABELS] + [f"pl.status.{s}" for s in BAND_ORDER]
    need += [f"pl.rb.status.{s}" for s in ("fixed", "partial", "infeasible", "budget_exhausted")]
    need += [f"pl.op.{op}" for op in ("move", "create", "split", "merge", "undo", "redo")]
    need += [f"pl.warn.{s}" for s in ("too_small", "too_large")]
    need += [f"level.{lv}" for lv in ("community", "grid")]
    assert [k for k in need if k not in WORDS] == []


@pytest.mark.parametrize("table", [WORDS, MESSAGES], ids=["WORDS", "MESSAGES"])
def test_every_entry_has_both_languages(table):
    """Both texts present; no Chinese left in the English one (户, 个, …); same placeholders."""
    bad = []
    for key, pair in table.items():
        assert len(pair) == 2, key
        zh, en = pair
        fields = [{f for _, f, _, _ in string.Formatter().parse(x) if f} for x in pair]
        if not zh.strip() or not en.strip():
            bad.append(f"{key}: empty text")
        elif CJK.search(en):
            bad.append(f"{key}: Chinese in the English text: {en!r}")
        elif not CJK.search(zh) and zh != en and not fields[0]:
            bad.append(f"{key}: the Chinese text has no Chinese: {zh!r}")
        if fields[0] != fields[1]:
            bad.append(f"{key}: placeholders differ {fields}")
    assert bad == [], "\n".join(bad)


def test_every_dropdown_speaks_the_page_language():
    """Dash's dropdown texts (placeholder, search box, clear) are English unless given."""
    bare = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "dcc.Dropdown":
                given = {k.arg for k in node.keywords}
                if not {"labels", "placeholder"} <= given:
                    bare.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert bare == [], "dcc.Dropdown without labels= and placeholder=: " + ", ".join(bare)


def test_every_what_key_is_translated():
    """``what="what.x"`` names in input checks (shown in refusals) exist in MESSAGES."""
    found = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.fullmatch(r"what\.[a-z_]+", node.value):
                    found.add(node.value)
    assert found and sorted(found - set(MESSAGES)) == []
