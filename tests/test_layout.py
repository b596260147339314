"""The package's layout, read from its imports: parts import only downwards, privates stay home.

The parts of :mod:`attnlib`, lowest first. A module may import from its own
part and from any part listed before it, never from one after it. The shared
helpers at the top level (``_validate``, ``_threads``, ``_device``) are below every part;
``cli``, ``__main__`` and ``attnlib/__init__`` are above every part.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "attnlib"

#: Lowest first. Top-level modules not named here are refused (at most 8 besides the parts).
ORDER = ("_validate", "_threads", "_device", "head", "reference", "laws", "chain", "dynamics", "teaching", "cli", "__main__", "__init__")
PARTS = ("head", "reference", "laws", "chain", "dynamics", "teaching")
TOP_LEVEL_MODULES = {"__init__", "__main__", "cli", "_validate", "_threads", "_device"}


def modules(package: Path) -> list[tuple[str, Path]]:
    """Every module of the package as (dotted name, path)."""
    out = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def part_of(dotted: str) -> str:
    """The part a module belongs to (``attnlib.laws.routing`` -> ``laws``; ``attnlib`` -> ``__init__``)."""
    pieces = dotted.split(".")
    return "__init__" if len(pieces) == 1 else pieces[1]


def imports(dotted: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) of every import in a module, function bodies included, made absolute."""
    is_package = path.name == "__init__.py"
    package = dotted.split(".") if is_package else dotted.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "attnlib"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").split(".")[0] == "attnlib":
                target = node.module
            else:
                continue
            names = [a.name for a in node.names]
            if node.module is None:  # from . import a, b: the names are modules
                found += [(node.lineno, f"{target}.{n}", []) for n in names]
            else:
                found.append((node.lineno, target, names))
    return found


def test_the_top_level_holds_the_parts_and_at_most_8_modules():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top == TOP_LEVEL_MODULES and len(top) <= 8
    assert folders == set(PARTS)


@pytest.mark.parametrize("part", PARTS)
def test_every_part_lists_its_api(part):
    tree = ast.parse((PACKAGE / part / "__init__.py").read_text())
    assert ast.get_docstring(tree), f"attnlib/{part}/__init__.py has no docstring"
    names = [
        e.value
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets)
        for e in n.value.elts
    ]
    assert names, f"attnlib/{part}/__init__.py has no __all__"
    assert len(names) == len(set(names))


def violations(package: Path = PACKAGE) -> list[str]:
    """Every import that runs up the order, and every private name imported from another module."""
    bad = []
    for dotted, path in modules(package):
        source = part_of(dotted)
        rank = ORDER.index(source)
        for line, target, names in imports(dotted, path):
            target_part = part_of(target)
            if ORDER.index(target_part) > rank:
                bad.append(f"{path.relative_to(package.parent)}:{line} imports {target} ({target_part} is above {source})")
            if target != dotted:
                private = [n for n in names if n.startswith("_") and n != "__version__"]
                if private:
                    bad.append(f"{path.relative_to(package.parent)}:{line} imports private {private} from {target}")
    return bad


def test_no_import_runs_up_and_no_private_name_crosses_a_module():
    assert violations() == []


def test_the_checker_sees_an_upward_and_a_private_import(tmp_path):
    """The check above can fail: a planted upward import and a planted private import are both reported."""
    fake = tmp_path / "attnlib"
    (fake / "head").mkdir(parents=True)
    (fake / "dynamics").mkdir()
    for init in (fake / "__init__.py", fake / "head" / "__init__.py", fake / "dynamics" / "__init__.py"):
        init.write_text("")
    (fake / "dynamics" / "toy.py").write_text("def _helper():\n    pass\n")
    (fake / "head" / "model.py").write_text("from ..dynamics.toy import _helper\n")
    found = violations(fake)
    assert any("dynamics is above head" in v for v in found)
    assert any("imports private ['_helper']" in v for v in found)


#: Parts whose __init__ re-exports every public name of its modules: the part's __all__ is the one list.
FLAT_PARTS = {
    "head": ("softmax", "model", "gradients", "entropy", "costs", "training"),
    "laws": ("routing", "responsibility", "em"),
    "chain": ("task", "bayes"),
    "dynamics": ("timescales", "diagnostics", "experiments", "paper_table", "deep", "deep_protocols", "sweep"),
}


def public_definitions(path: Path) -> list[str]:
    """Functions, classes and UPPER_CASE constants a module defines at its top level, without a leading _."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(name, ast.Name) and name.id.isupper():
                        names.append(name.id)
    return [n for n in names if not n.startswith("_")]


@pytest.mark.parametrize("part", FLAT_PARTS)
def test_a_parts_all_is_the_one_list_of_its_modules_public_names(part):
    import importlib

    package = importlib.import_module(f"attnlib.{part}")
    for module in FLAT_PARTS[part]:
        path = PACKAGE / part / f"{module}.py"
        tree = ast.parse(path.read_text())
        assert not any(
            isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets) for n in tree.body
        ), f"attnlib/{part}/{module}.py has its own __all__: the part's __init__ is the one list"
        missing = [n for n in public_definitions(path) if n not in package.__all__]
        assert not missing, f"attnlib/{part}/__init__.py does not export {missing} of {module}.py"
    for name in package.__all__:
        assert hasattr(package, name), name
