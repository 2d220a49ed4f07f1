"""The package's import graph: layers without upward imports, no cycles, light readers.

Every module belongs to a layer (the longest matching prefix below); it may import modules of
its own layer or lower ones, never higher ones. Imports inside functions count too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ftir_unmixer"

LAYERS = [
    ["ftir_unmixer", "ftir_unmixer.errors"],
    ["ftir_unmixer.io"],
    ["ftir_unmixer.band_weights"],
    ["ftir_unmixer.evaluation"],
    [
        "ftir_unmixer.plots",
        "ftir_unmixer.data.materials",
        "ftir_unmixer.data.atmosphere",
        "ftir_unmixer.data.synthetic",
    ],
    ["ftir_unmixer.unmixing", "ftir_unmixer.sweep_report", "ftir_unmixer.nuisance"],
    ["ftir_unmixer.refit"],
    ["ftir_unmixer.baselines"],
    ["ftir_unmixer.losses", "ftir_unmixer.models", "ftir_unmixer.data"],
    ["ftir_unmixer.explorer"],
    ["ftir_unmixer.training"],
    ["ftir_unmixer.commands", "ftir_unmixer.cli", "ftir_unmixer.train"],
]
"""Lowest first."""

LIGHT = [
    "ftir_unmixer.cli",
    "ftir_unmixer.io.readers",
    "ftir_unmixer.io.describe",
    "ftir_unmixer.evaluation.run_evaluation",
    "ftir_unmixer.evaluation.k_selection",
    "ftir_unmixer.sweep_report.writer",
    "ftir_unmixer.data.synthetic",
    "ftir_unmixer.baselines.vca_fcls",
    "ftir_unmixer.explorer.page",
]
"""Modules that must import without torch, Lightning or Hydra (readers, scores, commands)."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module → the package modules it imports (anywhere in its code)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            # ``from package import module`` imports the module, else the package itself.
            found = next((c for c in candidates if c in modules), None)
            if found and found != name:
                targets.add(found)
        graph[name] = targets
    return graph


def _layer(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} belongs to no layer"
    return max(matches)[1]


GRAPH = _imports()


def test_every_module_has_a_layer_and_imports_no_higher_one():
    upward = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                pytest.fail("cycle: " + " -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_readers_scores_and_commands_import_no_torch_lightning_or_hydra():
    code = (
        "import importlib, sys\n"
        f"for name in {LIGHT!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in ('torch', 'lightning', 'hydra') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
