"""The package's shape: stages as layers, no import cycles, no hidden imports of our own modules.

Every module of ``bbwatch`` is read with ``ast`` (nothing is imported) and its imports of
``bbwatch`` modules, at module level (``if TYPE_CHECKING:`` blocks included) and inside
functions, become a graph. The rules (the design notes' "nothing imports upward"):

- no cycle, of any length;
- a module imports only from its own stage or a lower one: ``models``, ``domain``, ``errors``
  (and the package root) import nothing of ours; ``logs`` -> the bottom; ``source`` -> ``logs``
  and the bottom; ``triage`` -> ``source``, ``logs`` and the bottom; ``sphinxext`` -> every
  stage; ``commands`` -> every stage and ``sphinxext``. So nothing below imports ``sphinxext``
  or ``commands``, and ``sphinxext`` never imports ``commands``;
- no ``bbwatch`` module is imported inside a function (a function-level import is only for an
  optional or heavy third-party dependency);
- the demo fleet (``bbwatch_fleet``) is imported by ``bbwatch.commands.fleet`` alone, when the
  command runs;
- no module is over ``MAX_LINES`` lines, except the regrtest parser (one state machine).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import bbwatch
import pytest

PACKAGE = Path(bbwatch.__file__).resolve().parent
MAX_LINES = 500
LONG_ALLOWED = {"bbwatch.logs.regrtest"}
FLEET = "bbwatch_fleet"
FLEET_IMPORTERS = {"bbwatch.commands.fleet"}

# stage -> its rank; a module may import its own stage or a lower rank
BOTTOM = ("bbwatch", "bbwatch.models", "bbwatch.domain", "bbwatch.errors")
STAGES = {"logs": 1, "source": 2, "triage": 3, "sphinxext": 4, "commands": 5}
ENTRY = {"bbwatch.__main__": "commands"}  # ``python -m bbwatch``: the CLI


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: bool


def modules(root: Path, package: str = "bbwatch") -> dict[str, Path]:
    """Dotted module name -> file, for every module under ``root`` (the package folder)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((package, *parts))] = path
    return found


def imports(name: str, path: Path, known: set[str], prefixes: tuple[str, ...]) -> list[Edge]:
    """The module's imports of modules named with one of ``prefixes``, resolved to modules
    (``from bbwatch.triage import history`` -> ``bbwatch.triage.history``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: list[Edge] = []

    def add(target: str, node: ast.stmt, in_function: bool) -> None:
        if target.split(".")[0] in prefixes:
            edges.append(Edge(name, target, node.lineno, in_function))

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child, in_function)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in known else base, child, in_function)
            walk(child, inside)

    walk(tree, False)
    return edges


def stage(module: str) -> str:
    parts = module.split(".")
    if module in ENTRY:
        return ENTRY[module]
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else module


def rank(module: str) -> int:
    return STAGES.get(stage(module), 0)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, ..., a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def problems(root: Path, package: str = "bbwatch") -> list[str]:
    """Every broken rule of the package under ``root``, one line each."""
    found = modules(root, package)
    known = set(found)
    edges = [e for name, path in found.items()
             for e in imports(name, path, known, (package, FLEET))]
    out: list[str] = []
    graph: dict[str, set[str]] = {name: set() for name in found}
    for e in edges:
        where = f"{found[e.source].relative_to(root.parent)}:{e.line}"
        if e.target.split(".")[0] == FLEET:
            if e.source not in FLEET_IMPORTERS or not e.in_function:
                out.append(f"{where}: {e.source} imports the demo fleet ({e.target})")
            continue
        graph[e.source].add(e.target)
        if e.in_function:
            out.append(f"{where}: {e.source} imports {e.target} inside a function")
        if e.source in BOTTOM and e.target != e.source:
            out.append(f"{where}: {e.source} is at the bottom and imports {e.target}")
        elif rank(e.target) > rank(e.source) or (
            rank(e.target) == rank(e.source) and stage(e.target) != stage(e.source)
        ):
            out.append(f"{where}: {e.source} ({stage(e.source)}) imports upward: {e.target} "
                       f"({stage(e.target)})")
    cycle = find_cycle(graph)
    if cycle:
        out.append("import cycle: " + " -> ".join(cycle))
    for name, path in found.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and name not in LONG_ALLOWED:
            out.append(f"{path.relative_to(root.parent)}: {lines} lines (at most {MAX_LINES})")
    return out


def test_the_package_keeps_its_shape() -> None:
    assert problems(PACKAGE) == []


def test_every_stage_says_what_it_owns() -> None:
    for name in ("logs", "source", "triage", "sphinxext", "commands"):
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), name


# -- the checker itself fails on what it must catch ------------------------------------------
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "bbwatch"
    for rel, text in {"__init__.py": "", "models.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({"logs/__init__.py": "", "logs/a.py": "from bbwatch.logs import b\n",
      "logs/b.py": "from bbwatch.logs.a import x\n"},
     "import cycle: bbwatch.logs.a -> bbwatch.logs.b -> bbwatch.logs.a"),
    ({"source/__init__.py": "", "triage/__init__.py": "",
      "source/a.py": "from bbwatch.triage import b\n", "triage/b.py": ""},
     "bbwatch.source.a (source) imports upward: bbwatch.triage.b (triage)"),
    ({"models.py": "from bbwatch.errors import E\n", "errors.py": ""},
     "bbwatch.models is at the bottom and imports bbwatch.errors"),
    ({"triage/__init__.py": "", "triage/a.py": "def f():\n    from bbwatch import models\n"},
     "bbwatch.triage.a imports bbwatch.models inside a function"),
    ({"sphinxext/__init__.py": "", "sphinxext/a.py": "from bbwatch.commands import main\n",
      "commands/__init__.py": "", "commands/main.py": ""},
     "bbwatch.sphinxext.a (sphinxext) imports upward: bbwatch.commands.main (commands)"),
    ({"triage/__init__.py": "", "triage/a.py": "import bbwatch_fleet\n"},
     "bbwatch.triage.a imports the demo fleet (bbwatch_fleet)"),
    ({"triage/__init__.py": "", "triage/long.py": "x = 1\n" * (MAX_LINES + 1)},
     f"{MAX_LINES + 1} lines"),
])
def test_the_checker_catches(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = problems(_package(tmp_path, files))
    assert any(expected in line for line in found), found
