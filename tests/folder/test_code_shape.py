"""Modules a reader takes in at one sitting: none over 400 lines and no function over 60 in
the code that ships (train/, export/, pocketml/, mobile_app/). Past that a module usually holds
two jobs; split it when a change adds to it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def sources() -> list[Path]:
    return sorted(p for folder in ("train", "export", "pocketml", "mobile_app")
                  for p in (ROOT / folder).rglob("*.py") if ".buildozer" not in p.parts)


def long_functions(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [f"{path.relative_to(root)}:{node.lineno} {node.name} "
            f"({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_module_is_over_400_lines():
    assert len(sources()) > 60
    assert [f"{p.relative_to(ROOT)} ({n} lines)" for p in sources()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES] == []


def test_no_function_is_over_60_lines():
    assert [line for path in sources() for line in long_functions(path)] == []


def test_a_long_function_is_found(tmp_path):
    source = tmp_path / "long.py"
    source.write_text("def f():\n" + "    x = 1\n" * 61)
    assert long_functions(source, tmp_path) == ["long.py:1 f (62 lines)"]
