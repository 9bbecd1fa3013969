"""The rules of the house (docs/ARCHITECTURE.md): import contracts and no import circles.

`lint-imports` checks the contracts of pyproject.toml ([tool.importlinter]). The AST walk
below also sees imports inside functions, which is where a circle hides when an import
is deferred to dodge it: every `pipeline.*` import, at the top of a module or inside a
function, is an edge of the package graph, and that graph must have no cycle.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = PROJECT / "pipeline"

# Imports of pipeline modules inside a function that are meant: (importer module, imported module).
# None today: an optional extra (ultralytics/torch, paho-mqtt, ray, MediaPipe, Chromium) is imported
# lazily inside the one pipeline module that wraps it, so importing that module stays cheap.
LAZY_SEAMS: set[tuple[str, str]] = set()
# The CLI imports every command module to build its parser; a command imports the machinery
# it runs (models, the web app, the store) inside its handler so `counterwatch --help` stays fast.
LAZY_PACKAGES = ("pipeline.cli", "pipeline.commands")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def module_name(path: Path, root: Path = PROJECT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str | None:
    if node.level == 0:
        return node.module
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, root: Path = PROJECT) -> list[Import]:
    """Every import of a `pipeline` module in the file, with whether it sits inside a function."""
    importer = module_name(path, root)
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                mod = _resolve(child, importer, is_package)
                if mod:
                    # `from pipeline.rules import catalog` imports the module pipeline.rules.catalog
                    subs = [f"{mod}.{a.name}" for a in child.names if (root / Path(*f"{mod}.{a.name}".split(".")))
                            .with_suffix(".py").exists() or (root / Path(*f"{mod}.{a.name}".split("."))).is_dir()]
                    targets = subs or [mod]
            for t in targets:
                if t == "pipeline" or t.startswith("pipeline."):
                    found.append(Import(importer, t, child.lineno, in_function))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return found


def all_imports(package: Path = PACKAGE, root: Path = PROJECT) -> list[Import]:
    return [imp for path in sorted(package.rglob("*.py")) for imp in imports_of(path, root)]


def package_of(module: str) -> str:
    """pipeline.rules.phone -> pipeline.rules; pipeline.processor -> pipeline.processor."""
    return ".".join(module.split(".")[:2])


def package_graph(imports: list[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        a, b = package_of(imp.importer), package_of(imp.imported)
        if b == "pipeline":
            continue  # the root package holds only __version__
        graph.setdefault(a, set())
        if a != b:
            graph[a].add(b)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def deferred_outside_seams(imports: list[Import]) -> list[Import]:
    return [imp for imp in imports if imp.in_function
            and not imp.importer.startswith(LAZY_PACKAGES)
            and (imp.importer, imp.imported) not in LAZY_SEAMS]


# --- the checks on the project ----------------------------------------------------------------


def test_import_contracts_hold():
    """`lint-imports` (the venv's, beside the running interpreter) keeps every contract of pyproject.toml."""
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.fail(f"{exe} not found: pip install -e '.[dev]' installs import-linter")
    env = {**os.environ, "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([str(exe), "--config", str(PROJECT / "pyproject.toml"), "--no-cache"], cwd=PROJECT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_no_import_cycle_between_packages():
    imports = all_imports()
    assert len(imports) > 100  # the walk found the package's imports
    cycle = find_cycle(package_graph(imports))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_is_deferred_outside_the_lazy_seams():
    """An import inside a function hides an edge of the graph; only the listed seams may do it."""
    late = deferred_outside_seams(all_imports())
    assert not late, "\n".join(f"{i.importer}:{i.line} imports {i.imported} inside a function" for i in late)


def test_lazy_seams_exist():
    """Each allowed seam is still an import inside a function (a stale entry would hide a new one)."""
    late = {(i.importer, i.imported) for i in all_imports() if i.in_function}
    assert LAZY_SEAMS <= late, sorted(LAZY_SEAMS - late)


# --- the walk itself, on a small package written here ------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "pipeline"


def test_a_circle_through_a_deferred_import_is_found(tmp_path):
    pkg = _write(tmp_path, {
        "pipeline/__init__.py": "",
        "pipeline/config/__init__.py": "",
        "pipeline/config/models.py": "def build():\n    from pipeline.rules import catalog\n",
        "pipeline/rules/__init__.py": "",
        "pipeline/rules/catalog.py": "from pipeline.config.models import build\n",
    })
    imports = all_imports(pkg, tmp_path)
    assert find_cycle(package_graph(imports)) == ["pipeline.config", "pipeline.rules", "pipeline.config"]
    assert [(i.importer, i.imported) for i in deferred_outside_seams(imports)] == [
        ("pipeline.config.models", "pipeline.rules.catalog")]


def test_relative_and_top_level_imports_make_edges(tmp_path):
    pkg = _write(tmp_path, {
        "pipeline/__init__.py": "",
        "pipeline/core/__init__.py": "",
        "pipeline/core/a.py": "",
        "pipeline/scene/__init__.py": "from ..core import a\n",
        "pipeline/rules/__init__.py": "",
        "pipeline/rules/x.py": "import pipeline.scene\n",
    })
    graph = package_graph(all_imports(pkg, tmp_path))
    assert graph["pipeline.scene"] == {"pipeline.core"} and graph["pipeline.rules"] == {"pipeline.scene"}
    assert find_cycle(graph) is None


def test_the_web_app_loads_no_model_framework():
    """The web contract ignores one edge (pipeline.settings reads the backends' config models from
    the registry); importing the app must still load no inference framework and no frame processor."""
    code = ("import sys, pipeline.web.app\n"
            "print(','.join(m for m in ('onnxruntime', 'mediapipe', 'torch', 'ultralytics', 'pipeline.processor',"
            " 'pipeline.analyze') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "", f"importing pipeline.web.app loaded: {proc.stdout.strip()}"
