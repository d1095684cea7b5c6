"""The project's import arrows, read from the source (imports inside functions included):
no module reaches itself again, and layers point one way: the commands on top, train/ and
export/ beside each other and never importing each other, the model folder (pocketml/folder/)
beneath both, the app's pocketapp at the bottom."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# pyproject.toml's package-dir remap: where each installed package's source lives.
PACKAGES = {"pocketml.train": ROOT / "train", "pocketml.export": ROOT / "export",
            "pocketml.pocketapp": ROOT / "mobile_app" / "pocketapp", "pocketml": ROOT / "pocketml"}


def module_files() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts))
            modules.setdefault(name.removesuffix(".__init__"), path)
    return modules


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that `module` imports anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1],
                                 *([base] if base else [])])
            # `from pocketml.folder import artifacts` imports a module; `from x import name`
            # imports from x.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                     for alias in node.names]
        else:
            continue
        if package.startswith("pocketml.pocketapp"):
            names = [f"pocketml.{n}" if n.startswith("pocketapp") else n for n in names]
        found |= {name for name in names if name in known and name != module}
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imported(name, path, known) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> str:
    for prefix in ("pocketml.pocketapp", "pocketml.folder", "pocketml.train", "pocketml.export"):
        if module == prefix or module.startswith(prefix + "."):
            return prefix.rpartition(".")[2]
    return "commands"


# Which layers each layer may import: everything points down.
ALLOWED = {"pocketapp": {"pocketapp"},
           "folder": {"folder", "pocketapp"},
           "train": {"train", "folder", "pocketapp"},
           "export": {"export", "folder", "pocketapp"},
           "commands": {"commands", "train", "export", "folder", "pocketapp"}}


def test_the_graph_is_read_from_every_module():
    graph = import_graph()
    assert len(graph) > 60
    # imports inside functions count: cli.py imports the format table only when it builds --help
    assert "pocketml.export.formats" in graph["pocketml.cli"]
    assert "pocketml.pocketapp.bundle" in graph["pocketml.pocketapp.selfcheck"]  # relative


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_a_planted_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_layers_point_one_way():
    wrong = [f"{source} ({layer(source)}) imports {target} ({layer(target)})"
             for source, targets in import_graph().items() for target in sorted(targets)
             if layer(target) not in ALLOWED[layer(source)]]
    assert wrong == []


def test_the_arm64_guest_imports_only_what_needs_numpy_alone():
    """guest.py runs in the emulated Python, where only numpy and the runtimes are installed."""
    graph = import_graph()
    reached, todo = set(), ["pocketml.export.arm64.guest"]
    while todo:
        for target in graph[todo.pop()] - reached:
            reached.add(target)
            todo.append(target)
    assert reached <= {"pocketml.export", "pocketml.export.arm64", "pocketml.export.runtimes",
                       "pocketml.export.console", "pocketml.export.arm64.wire"}
