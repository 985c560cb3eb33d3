"""The package's layout: no import cycle (imports inside functions included), no module over 300
lines, and nothing below the chapters imports one (only `mae_study.sweep`, `mae_study.classroom`
and the chapters do)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mae_study"
MAX_LINES = 300
BELOW_CHAPTERS = ("train", "runs", "report", "data", "models")


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (a package by its ``__init__``)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(module: str, path: Path, node: ast.AST) -> list[str]:
    """The dotted names an import statement may load: the module and, for ``from m import x``, ``m.x``."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module
    return [name] + [f"{name}.{a.name}" for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at the top or inside functions."""
    mods = modules()
    graph = {}
    for module, path in mods.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found |= {n for n in _imported(module, path, node) if n in mods and n != module}
        graph[module] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycles_finds_a_cycle_and_only_cycles():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_no_module_over_300_lines():
    long = {m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules: {long}"


def test_nothing_below_the_chapters_imports_one():
    packages = [f"mae_study.{p}" for p in BELOW_CHAPTERS]
    below = {m for m in import_graph() if m in ("mae_study", "mae_study.paths", "mae_study.masking")
             or any(m == p or m.startswith(p + ".") for p in packages)}
    wrong = {m: sorted(d for d in import_graph()[m] if d.startswith("mae_study.chapters")) for m in sorted(below)}
    assert not {m: d for m, d in wrong.items() if d}


def test_every_chapter_is_a_package_and_experiments_is_gone():
    assert not list((PACKAGE / "experiments").glob("*.py"))
    for chapter in ("ladder", "mae", "ablations", "dynmask", "kd", "synthetic"):
        assert (PACKAGE / "chapters" / chapter / "__init__.py").exists()
