"""The house rules, read from the source: one-way imports between the stage packages, no import
cycles, the library never importing the CLI, and the torch-free layers loading without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "snac_hf"

#: Stage packages, bottom (0) to top. A package imports only packages of a lower rank, or one of
#: the same rank that SAME_RANK names (with the reason in that package's docstring).
RANK = {
    "layout": 0,
    "tokenset": 1,
    "analysis": 2,
    "bpe": 2,
    "codec": 3,
    "sources": 3,
    "job": 4,
    "lm": 4,
    "evidence": 4,
    "export": 4,
    "cli": 5,
}
SAME_RANK = {("bpe", "analysis"), ("codec", "sources"), ("evidence", "lm")}
#: Layers that must load (every module) in an interpreter where `import torch` fails.
TORCH_FREE = ("layout", "tokenset", "analysis", "bpe", "export")


def module_name(path: Path) -> str:
    parts = ("snac_hf", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every snac_hf module a file imports, at the top or inside functions (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            # `from snac_hf.x import y` may name a module y.
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            pytest.fail(f"{path}: use absolute imports (from snac_hf...), not relative ones")
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module"
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return {name for name in found if name.startswith("snac_hf.")}


def source_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def known_modules() -> set[str]:
    return {module_name(path) for path in source_files()}


def module_graph() -> dict[str, set[str]]:
    known = known_modules()
    return {module_name(path): imported_modules(path) & known for path in source_files()}


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANK) else None


def test_every_package_has_a_place_and_says_what_it_may_import():
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages <= set(RANK), f"new package(s) {packages - set(RANK)}: give them a RANK here"
    for name in packages:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert doc and "May import:" in doc, f"snac_hf/{name}/__init__.py must say what it may import"
    loose = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert not loose, f"modules outside a stage package: {loose}"


def test_imports_flow_one_way_between_stages():
    wrong = []
    for module, imports in module_graph().items():
        src = stage(module)
        for target in imports:
            dst = stage(target)
            if src is None or dst is None or dst == src:
                continue
            if not (RANK[dst] < RANK[src] or (src, dst) in SAME_RANK):
                wrong.append(f"{module} imports {target} ({src} may not import {dst})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_library_never_imports_the_cli():
    wrong = [
        f"{module} imports {target}"
        for module, imports in module_graph().items()
        if stage(module) != "cli" and module not in {"snac_hf.__main__"}
        for target in imports
        if stage(target) == "cli"
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_modules():
    graph = module_graph()
    # A package's __init__ re-exporting its modules is not a cycle with them.
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(
                    " -> ".join(path[path.index(nxt) :] + [node, nxt]) if nxt in path else f"{node} -> {nxt}"
                )
            elif nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert not cycles, "\n".join(cycles)


def test_the_rules_catch_a_wrong_import(tmp_path):
    # The scan itself: a lazy import inside a function is seen, and so is import_module.
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from snac_hf.cli.main import main\n    import_module('snac_hf.job.pipeline')\n"
    )
    assert imported_modules(source) == {"snac_hf.cli.main", "snac_hf.cli.main.main", "snac_hf.job.pipeline"}


def test_torch_free_layers_load_without_torch():
    modules = sorted(m for m in known_modules() if stage(m) in TORCH_FREE)
    modules += ["snac_hf", "snac_hf.cli.main", "snac_hf.lm.settings", "snac_hf.evidence.settings"]
    code = (
        "import sys, importlib\n"
        "sys.modules['torch'] = None  # any `import torch` now raises ImportError\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'torch' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
        "print(len(" + repr(modules) + "))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout) == len(modules) > 40


def test_public_api_at_the_package_root():
    import tomllib

    import snac_hf

    for name in snac_hf.__all__:
        assert getattr(snac_hf, name) is not None, name
    assert snac_hf.layout_for("snac_24khz").codes_per_frame == (1, 2, 4)
    with pytest.raises(AttributeError, match="no attribute 'tokenise'"):
        snac_hf.tokenise  # noqa: B018
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    assert snac_hf.__version__ == project["version"]
