"""The package's architecture, checked: imports go down the path of a fit, never up, never in a circle.

Every ``import`` of an hlmlab module is counted, at the top of a module or
inside a function (a function-level import is still a dependency); only
imports under ``if TYPE_CHECKING:`` (type hints) are exempt.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hlmlab"

#: the layers, bottom first: a module may import its own layer and those below it
LAYERS = [
    {"_format", "_numdiff", "_blas", "_parallel", "contract", "exceptions"},
    {"multilevel"},
    {"formula"},
    {"ddf"},
    {"ols"},
    {"lmm"},
    {"inference"},
    {"graphics"},
    {"teaching"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    top = module.split(".")[1]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path) -> set[str]:
    """hlmlab modules imported by a file (``from hlmlab.a import b`` counts hlmlab.a.b if it is a module)."""
    tree = ast.parse(path.read_text())
    skip = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node) for n in ast.walk(node)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("hlmlab.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hlmlab"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in MODULES else node.module)
    return {m for m in out if m != "hlmlab"}


FILES = {p: _module_name(p) for p in PKG.rglob("*.py")}
MODULES = set(FILES.values())
GRAPH = {FILES[p]: _imports(p) for p in FILES if p != PKG / "__init__.py"}


def test_every_module_belongs_to_a_layer():
    for module in GRAPH:
        _layer(module)  # raises StopIteration for a module outside the layers


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_only_go_down(module):
    up = sorted(m for m in GRAPH[module] if _layer(m) > _layer(module))
    assert not up, f"{module} imports {up} from a higher layer"


def test_there_is_no_import_cycle():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(GRAPH.get(m, ())):
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n in GRAPH and state.get(n) is None:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_no_module_is_much_over_500_lines():
    long = {FILES[p]: n for p in FILES if (n := len(p.read_text().splitlines())) > 560}
    assert not long, f"modules over the size a reader can hold: {long}"


def test_import_hlmlab_loads_no_plotting_widget_or_statistics_library():
    code = (
        "import sys, hlmlab; "
        "heavy = [m for m in ('matplotlib', 'seaborn', 'ipywidgets', 'scipy.stats', 'formulaic') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_names_resolve_to_the_functions_they_name():
    import hlmlab as hl

    for name in hl.__all__:
        value = getattr(hl, name)
        assert value is not None
    assert hl.lm.__module__ == "hlmlab.ols.fit" and hl.lme.__module__ == "hlmlab.lmm.model"
    assert callable(hl.plots.shrinkage_beta) and callable(hl.geometry.ellipse)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hl.nope  # noqa: B018
