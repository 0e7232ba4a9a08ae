"""The house rules of the code base (issue #11), checked on the source with :mod:`ast`.

Scope: every module of ``gridmap/`` and ``dashboards/``. An *internal* import is one of a
module of those two packages (relative imports resolved).

1. **No import circle** among internal modules, counting imports made inside functions.
   ``import a.b`` and ``from a.b import c`` are edges to ``a.b`` (to ``a.b.c`` when ``c`` is a
   submodule); importing a submodule is not counted as importing its parent package's
   ``__init__``. Imports under ``if TYPE_CHECKING:`` never run and are not counted.
2. **No module over** :data:`MAX_LINES` lines.
3. **No private name imported across packages.** A private name (``_x``, not ``__x__``) may be
   imported only from inside the package that holds it: ``from gridmap.io.readers import _y``
   only by modules of ``gridmap.io`` (and its subpackages). The same holds for private
   modules: ``gridmap.io._encodings`` may be imported only inside ``gridmap.io``. So the
   private modules of the top package (``gridmap._errors``, ``gridmap._version``,
   ``gridmap._toml``, …) may be imported by gridmap's own modules and subpackages, never by
   ``dashboards``; a private name of a top-level module ``gridmap.x`` counts as held by
   ``gridmap``.
4. **Internal imports at the top of the module.** An internal import inside a function needs
   a comment saying why, on the import's own lines or on the line just above it. (Heavy
   optional third-party imports inside functions are not internal and not checked here.)
5. **Layers import downward** (the README's Layout): each module belongs to a layer of
   :data:`LAYERS` (by the longest listed prefix of its name) and imports only its own layer and
   the layers below; type-only imports are exempt. A new top-level module must be given a layer.

Each check lists every offender with its file and line in the failure message.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gridmap", "dashboards")
MAX_LINES = 600
#: the layers of the README's Layout, bottom up: module name prefixes per layer
LAYERS = {
    "foundation": (
        "gridmap._errors",
        "gridmap._version",
        "gridmap._lazy",
        "gridmap._toml",
        "gridmap._atomic",
        "gridmap._gcpause",
        "gridmap.lru",
        "gridmap.labels",
        "gridmap.fonts",
        "gridmap.locate",
    ),
    "input": (
        "gridmap.io",
        "gridmap.crs",
        "gridmap.columns",
        "gridmap.facilities",
        "gridmap.validation",
        "gridmap.offsets",
        "gridmap.study",
        "gridmap.config",
        "gridmap.datasets",
        "gridmap.osm",
        "gridmap.synthetic",
    ),
    "analysis": (
        "gridmap.assign",
        "gridmap.metrics",
        "gridmap.rules",
        "gridmap.evaluation",
        "gridmap.qa",
        "gridmap.check",
        "gridmap.network",
        "gridmap.coverage",
        "gridmap.adjacency",
    ),
    "planning": (
        "gridmap.plans",
        "gridmap.edits",
        "gridmap.rebalance",
        "gridmap._rebalance_model",
        "gridmap._workspace",
        "gridmap.griddesign",
        "gridmap.siting",
        "gridmap.change",
    ),
    "outputs": ("gridmap.report", "gridmap.maps", "gridmap.national", "gridmap.tiles"),
    "interfaces": ("gridmap", "gridmap.cli", "dashboards"),
}


@dataclass(frozen=True)
class Import:
    """One internal import: which module it names, where, and how it is made."""

    importer: str
    target: str  # the internal module it loads (a package name means its __init__)
    names: tuple[str, ...]  # names taken with ``from target import ...`` (empty for ``import``)
    line: int
    end_line: int
    in_function: bool
    type_checking: bool


@dataclass
class Module:
    """A source file of the tree, parsed."""

    name: str
    path: Path
    text: str
    is_package: bool
    imports: list[Import] = field(default_factory=list)

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def package(self) -> str:
        """The package the module belongs to (itself for an ``__init__``)."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    """The absolute dotted name a ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _walk(module: Module, names: set[str]) -> None:
    """Collect the internal imports of ``module`` (``names``: every internal module)."""

    def internal(dotted: str) -> str | None:
        # the longest internal module the dotted name starts with
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):
            candidate = ".".join(parts[:n])
            if candidate in names:
                return candidate
        return None

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = internal(alias.name)
                if target:
                    module.imports.append(
                        Import(
                            module.name,
                            target,
                            (),
                            node.lineno,
                            node.end_lineno or node.lineno,
                            in_function,
                            type_checking,
                        )
                    )
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            target = internal(base)
            if target:
                submodules = [a.name for a in node.names if f"{base}.{a.name}" in names]
                others = tuple(a.name for a in node.names if a.name not in submodules)
                end = node.end_lineno or node.lineno
                if others or not submodules:
                    module.imports.append(
                        Import(
                            module.name,
                            target,
                            others,
                            node.lineno,
                            end,
                            in_function,
                            type_checking,
                        )
                    )
                for sub in submodules:
                    module.imports.append(
                        Import(
                            module.name,
                            f"{base}.{sub}",
                            (),
                            node.lineno,
                            end,
                            in_function,
                            type_checking,
                        )
                    )
        for child in ast.iter_child_nodes(node):
            visit(
                child,
                in_function
                or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)),
                type_checking
                or (
                    isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body
                ),
            )

    visit(ast.parse(module.text, filename=str(module.path)), False, False)


@cache
def modules() -> dict[str, Module]:
    """Every module of the tree by dotted name, with its internal imports."""
    found: dict[str, Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name, is_package = _module_name(path)
            found[name] = Module(name, path, path.read_text(encoding="utf-8"), is_package)
    for module in found.values():
        _walk(module, set(found))
    return found


def _cycles(graph: dict[str, dict[str, Import]]) -> list[list[Import]]:
    """One cycle (as the imports that make it) per strongly connected component (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: dict[str, dict[str, Import]], component: list[str]) -> list[Import]:
    """The shortest cycle through the first module of a strongly connected component."""
    start, members = component[0], set(component)
    previous: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w, imp in sorted(graph[v].items()):
                if w == start:
                    chain = [imp]
                    while chain[-1].importer != start:
                        chain.append(previous[chain[-1].importer])
                    return chain[::-1]
                if w in members and w not in previous:
                    previous[w] = imp
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle in {component}")  # pragma: no cover


def _where(imp: Import) -> str:
    module = modules()[imp.importer]
    how = " (in a function)" if imp.in_function else ""
    return f"{module.rel}:{imp.line}{how}"


def _inside(importer: str, package: str) -> bool:
    return importer == package or importer.startswith(package + ".")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def import_cycles() -> list[str]:
    """Each import circle as a chain ``a (file:line) -> b (file:line) -> a``."""
    graph: dict[str, dict[str, Import]] = {name: {} for name in modules()}
    for module in modules().values():
        for imp in module.imports:
            if not imp.type_checking:
                graph[module.name].setdefault(imp.target, imp)
    return [
        " -> ".join(f"{imp.importer} ({_where(imp)})" for imp in cycle) + f" -> {cycle[0].importer}"
        for cycle in _cycles(graph)
    ]


def long_modules() -> list[str]:
    """Each module over :data:`MAX_LINES` lines, with its length."""
    return [
        f"{m.rel}: {len(m.text.splitlines())} lines"
        for m in modules().values()
        if len(m.text.splitlines()) > MAX_LINES
    ]


def private_imports() -> list[str]:
    """Each import of a private name or private module from outside the package holding it."""
    found = []
    for module in modules().values():
        for imp in module.imports:
            # a private module anywhere in the target's dotted path: held by the package above it
            parts = imp.target.split(".")
            for i, part in enumerate(parts):
                holder = ".".join(parts[:i])
                if _private(part) and not _inside(module.name, holder):
                    found.append(
                        f"{_where(imp)}: {module.name} imports private module "
                        f"{'.'.join(parts[: i + 1])} (held by {holder})"
                    )
                    break
            target = modules()[imp.target]
            for name in imp.names:
                if _private(name) and not _inside(module.name, target.package):
                    found.append(
                        f"{_where(imp)}: {module.name} imports {name} from "
                        f"{imp.target} (held by {target.package})"
                    )
    return found


def _layer(name: str) -> int | None:
    """The position in :data:`LAYERS` of the longest prefix of ``name`` listed there."""
    best, found = -1, None
    for rank, prefixes in enumerate(LAYERS.values()):
        for prefix in prefixes:
            if _inside(name, prefix) and len(prefix) > best:
                best, found = len(prefix), rank
    return found


def upward_imports() -> list[str]:
    """Each import of a higher layer, and each module without a layer."""
    names = list(LAYERS)
    found = [
        f"{m.rel}: {m.name} has no layer in LAYERS"
        for m in modules().values()
        if _layer(m.name) is None
    ]
    for module in modules().values():
        own = _layer(module.name)
        for imp in module.imports:
            other = _layer(imp.target)
            if own is not None and other is not None and other > own and not imp.type_checking:
                found.append(
                    f"{_where(imp)}: {module.name} ({names[own]}) imports {imp.target} "
                    f"({names[other]})"
                )
    return found


def _comment_lines(text: str) -> set[int]:
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            lines.add(tok.start[0])
    return lines


def unexplained_function_imports() -> list[str]:
    """Each internal import inside a function without a comment on or just above it."""
    found = []
    for module in modules().values():
        inside = [imp for imp in module.imports if imp.in_function]
        if not inside:
            continue
        comments = _comment_lines(module.text)
        for imp in sorted(inside, key=lambda imp: imp.line):
            text = f"{module.rel}:{imp.line}: imports {imp.target}"
            if not comments & set(range(imp.line - 1, imp.end_line + 1)) and text not in found:
                found.append(text)
    return found


def _report(title: str, offenders: list[str]) -> str:
    return f"{len(offenders)} {title}:\n  " + "\n  ".join(offenders)


# --------------------------------------------------------------------------- the checks
def test_no_import_circle():
    cycles = import_cycles()
    assert not cycles, _report("import circle(s)", cycles)


def test_no_module_over_600_lines():
    long = long_modules()
    assert not long, _report(f"module(s) over {MAX_LINES} lines", long)


def test_no_private_name_imported_across_packages():
    private = private_imports()
    assert not private, _report("private import(s) across packages", private)


def test_internal_imports_at_module_top():
    unexplained = unexplained_function_imports()
    assert not unexplained, _report(
        "function-level import(s) of gridmap/dashboards modules without a comment saying why",
        unexplained,
    )


def test_layers_import_downward():
    upward = upward_imports()
    assert not upward, _report("import(s) of a higher layer", upward)


# --------------------------------------------------------------------------- the checker itself


def test_checker_sees_the_tree():
    found = modules()
    assert {"gridmap", "gridmap.rules", "gridmap.rules.model", "dashboards"} <= set(found)
    rules = found["gridmap.rules.findings"]
    assert any(
        imp.target == "gridmap.rules.kinds" and "_eval_range" in imp.names for imp in rules.imports
    )


def test_checker_finds_circles_and_names_the_chain():
    def imp(a, b, line):
        return Import(a, b, (), line, line, False, False)

    graph = {
        "p.a": {"p.b": imp("p.a", "p.b", 1)},
        "p.b": {"p.c": imp("p.b", "p.c", 2)},
        "p.c": {"p.a": imp("p.c", "p.a", 3), "p.d": imp("p.c", "p.d", 4)},
        "p.d": {},
    }
    (cycle,) = _cycles(graph)
    assert [(i.importer, i.target) for i in cycle] == [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),
    ]
    assert _cycles({"p.a": {"p.b": imp("p.a", "p.b", 1)}, "p.b": {}}) == []


def test_layers_by_longest_prefix():
    ranks = {name: rank for rank, name in enumerate(LAYERS)}
    assert _layer("gridmap.rules.kinds") == ranks["analysis"]
    assert _layer("gridmap._errors") == ranks["foundation"]
    assert _layer("gridmap") == ranks["interfaces"]
    assert _layer("elsewhere") is None


def test_private_rule_follows_packages():
    assert _private("_rule") and not _private("__version__") and not _private("rule")
    assert _inside("gridmap.rules.findings", "gridmap.rules")
    assert _inside("gridmap.cli.main", "gridmap") and not _inside("dashboards.provider", "gridmap")
    assert not _inside("gridmap.rulesx", "gridmap.rules")
