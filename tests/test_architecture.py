"""The shape of app/: its packages depend on each other without a cycle, and app code is imported
at the top of a module, where a reader sees it, not inside a function.

Each package of app/ (app.ledger, app.contracts, ...) is a node of the graph, and so is each
top-level module (app.db, app.money, ...). A feature's tables (its models.py) are a node of
their own: the tables are one layer below every feature, and refer to each other as their
foreign keys do (a payment's table names its contract's), while the features' code above them
must not go round in a circle. An import of app.ledger.service in app/contracts/router.py is an
edge app.contracts → app.ledger wherever the import stands: at the top of the module, inside
a function, or under `if TYPE_CHECKING:`. An import moved into a function to get round a cycle
still makes one package depend on the other. docs/ARCHITECTURE.md draws the layers.
"""

import ast
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The command-line commands and the lazily built ASGI app import what they need when they run,
# so that the command line and a worker start fast.
LAZY_IMPORTS_ALLOWED = {"app/cli.py", "app/main.py"}


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module: app.ledger.service
    path: str  # its file, from the repository's root: app/ledger/service.py
    line: int
    module: str  # the app module imported: app.contracts.models
    function: str | None  # the function the import stands in, if any

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" + (f" (in {self.function})" if self.function else "")


Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def node(module: str) -> str:
    """app.ledger.service → app.ledger; app.ledger.models → app.ledger.models (the tables);
    app.db → app.db; app → app."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[2:3] == ["models"] else parts[:2])


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class _Imports(ast.NodeVisitor):
    def __init__(self, root: Path, path: Path) -> None:
        self.root, self.path = root, path
        self.module = _module_name(root, path)
        self.package = self.module if path.name == "__init__.py" else self.module.rpartition(".")[0]
        self.scopes: list[Scope] = []  # the classes and functions the walk is inside
        self.found: dict[Import, None] = {}  # in order, once: `from m import a, b` is one import

    def visit_FunctionDef(self, node: Scope) -> None:
        self.scopes.append(node)
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: from . import x, from ..ledger.service import y
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            # `from app import migrate` imports the module app.migrate; `from app.x import y`
            # imports y from app.x, a module or not: both depend on app.x's node.
            submodule = f"{source}.{alias.name}"
            candidate = self.root.joinpath(*submodule.split("."))
            is_module = candidate.with_suffix(".py").is_file() or candidate.is_dir()
            self._add(node, submodule if is_module else source)

    def _add(self, node: ast.Import | ast.ImportFrom, module: str) -> None:
        if module == "app" or module.startswith("app."):
            path = self.path.relative_to(self.root).as_posix()
            in_function = any(
                isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) for s in self.scopes
            )
            function = ".".join(s.name for s in self.scopes) if in_function else None
            self.found[Import(self.module, path, node.lineno, module, function)] = None


def app_imports(root: Path = ROOT) -> list[Import]:
    """Every import of an app module in every .py file under root/app, wherever it stands."""
    found: list[Import] = []
    for path in sorted((root / "app").rglob("*.py")):
        visitor = _Imports(root, path)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found += list(visitor.found)
    return found


def package_graph(imports: list[Import]) -> dict[tuple[str, str], list[Import]]:
    """(importer's node, imported node) → the imports that make that edge; none to itself."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in imports:
        source, target = node(imp.importer), node(imp.module)
        if source != target:
            edges[source, target].append(imp)
    return dict(edges)


def strongly_connected(edges: dict[tuple[str, str], list[Import]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of nodes that each reach every other one of their group.
    A group of two or more is a cycle (or several sharing nodes)."""
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(edges):
        successors[source].append(target)
    nodes = sorted({n for edge in edges for n in edge})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in successors[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            groups.append(sorted(group))

    for v in nodes:
        if v not in index:
            visit(v)
    return sorted(g for g in groups if len(g) > 1)


def _shortest_path(edges: set[tuple[str, str]], start: str, goal: str) -> list[str]:
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        if v == goal:
            break
        for source, target in sorted(edges):
            if source == v and target not in came_from:
                came_from[target] = v
                queue.append(target)
    path: list[str] = []
    step: str | None = goal
    while step is not None:
        path.append(step)
        step = came_from[step]
    return path[::-1]


def describe_cycles(edges: dict[tuple[str, str], list[Import]]) -> list[str]:
    """One paragraph per group of packages that import each other in a circle: every edge
    inside the group, a cycle it closes, and the file and line of each import that makes it."""
    paragraphs = []
    for group in strongly_connected(edges):
        inside = {(s, t) for s, t in edges if s in group and t in group}
        lines = [f"cycle among {', '.join(group)}:"]
        for source, target in sorted(inside):
            back = _shortest_path(inside, target, source)
            lines.append(f"  {source} → {target}   (closes {' → '.join([source, *back])})")
            lines += [f"      {imp.where}: {imp.module}" for imp in edges[source, target]]
        paragraphs.append("\n".join(lines))
    return paragraphs


def lazy_imports(imports: list[Import]) -> list[Import]:
    return [i for i in imports if i.function and i.path not in LAZY_IMPORTS_ALLOWED]


def test_app_packages_do_not_import_each_other_in_a_cycle() -> None:
    cycles = describe_cycles(package_graph(app_imports()))
    assert not cycles, "app's packages import each other in a cycle:\n" + "\n".join(cycles)


def test_tables_depend_on_nothing_but_tables_and_the_base_modules() -> None:
    """A models.py imports other tables and top-level modules (app.money, app.timeutil), never
    a feature's code: that is what keeps the table layer below every feature."""
    base = {p.stem for p in (ROOT / "app").glob("*.py")}
    wrong = [
        f"{i.where}: {i.module}"
        for i in app_imports()
        if node(i.importer).endswith(".models")
        and not node(i.module).endswith(".models")
        and node(i.module).split(".")[-1] not in base
    ]
    assert not wrong, "tables importing feature code:\n" + "\n".join(wrong)


def test_app_code_is_imported_at_the_top_of_a_module() -> None:
    lazy = [f"{i.where}: {i.module}" for i in lazy_imports(app_imports())]
    assert not lazy, (
        f"app modules imported inside a function (only {', '.join(sorted(LAZY_IMPORTS_ALLOWED))}"
        " may):\n" + "\n".join(lazy)
    )


def test_the_checks_find_a_cycle_made_by_an_import_in_a_function(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/db.py": "",
        "app/a/__init__.py": "",
        "app/a/service.py": "from app.b.models import B, C\nfrom app.a import models\n",
        "app/b/__init__.py": "",
        "app/b/models.py": "import app.db\n\n\ndef late():\n    from ..c import rules\n",
        "app/c/__init__.py": "",
        "app/c/rules.py": "from app import db\n\n\nclass R:\n    def m(self):\n"
        "        from app.a.service import x\n",
        "app/main.py": "def app():\n    from app.a import service\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    imports = app_imports(tmp_path)
    edges = package_graph(imports)
    assert sorted(edges) == [
        ("app.a", "app.b.models"),
        ("app.b.models", "app.c"),
        ("app.b.models", "app.db"),
        ("app.c", "app.a"),
        ("app.c", "app.db"),
        ("app.main", "app.a"),
    ]
    assert [i.where for i in edges["app.a", "app.b.models"]] == ["app/a/service.py:1"]
    assert strongly_connected(edges) == [["app.a", "app.b.models", "app.c"]]
    (cycle,) = describe_cycles(edges)
    assert "app.c → app.a   (closes app.c → app.a → app.b.models → app.c)" in cycle
    assert "app/c/rules.py:6 (in R.m): app.a.service" in cycle
    assert [i.where for i in lazy_imports(imports)] == [
        "app/b/models.py:5 (in late)",
        "app/c/rules.py:6 (in R.m)",
    ]
