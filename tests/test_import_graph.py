"""The import graph of `src/deephealth` has no cycles, counting imports inside functions too.

Every `import` / `from ... import` statement anywhere in a module (module level, functions, methods)
is an edge, except those under `if TYPE_CHECKING:` (annotations only, never executed). A package's
`__init__` counts as a module; importing `a.b.c` also imports `a.b` and `a`, and `from a import b`
is an edge to `a.b` when `a.b` is a module. A cycle is reported with its modules in order.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "deephealth"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if "migrations" in parts:  # alembic scripts, run by alembic, not imported
            continue
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_pkg: bool) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """module -> the deephealth modules it imports (directly, anywhere in its body)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _imports(ast.parse(path.read_text()), name, path.name == "__init__.py"):
            parts = target.split(".")
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                    edges.add(prefix)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert "deephealth.eddl.layers.base" in graph["deephealth.eddl.model"]
    assert len(graph) > 150


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


# Which wings a wing may not import (docs/architecture.md, "Import direction"): server ->
# pipelines -> {eddl, ecvl}; eddl and ecvl never import each other; serving imports no other wing.
FORBIDDEN = {
    "eddl": {"ecvl", "pipelines", "server", "cli"},
    "ecvl": {"eddl", "pipelines", "server", "cli"},
    "pipelines": {"server", "cli"},
    "serving": {"eddl", "ecvl", "pipelines", "server", "cli"},
    "server": {"cli"},
    "errors": {"eddl", "ecvl", "pipelines", "serving", "server", "cli"},
    "distenv": {"eddl", "ecvl", "pipelines", "serving", "server", "cli"},
}
# the one bridge between ECVL and EDDL (DESIGN.md): pyecvl's ImageToTensor / LoadBatch give and
# fill eddl.Tensor objects
BRIDGES = {("deephealth.ecvl.tensor_bridge", "eddl")}


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_imports_flow_one_way() -> None:
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if _wing(target) in FORBIDDEN.get(_wing(module), set())
        and (module, _wing(target)) not in BRIDGES
    )
    assert wrong == []


def test_library_code_does_not_import_examples() -> None:
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if ".examples" in target and ".examples" not in module
    )
    assert wrong == []
