"""The layers hold (pyproject.toml's import-linter contracts), and they can fail.

`lint-imports` runs in `./dev test` (through tools/layers.py, which reads each product
folder as the package pyproject.toml maps it to); here it runs on the tree as it is, and
on a copy with one deliberate upward import, which it must refuse. Every module of the
composition root (linli/) and every product folder must be named in a layer, so a new
one cannot slip past the contracts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools.layers import cycles
from tools.layout import DEV_FOLDERS, package_dirs

ROOT = Path(__file__).resolve().parent.parent
# the product's packages and their folders: pyproject.toml, read by tools/layout.py
PACKAGES = {name: folder.name for name, folder in package_dirs(ROOT).items()}


def contracts() -> dict[str, dict]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["id"]: c for c in doc["tool"]["importlinter"]["contracts"]}


def layer_names() -> list[set[str]]:
    return [
        {name.strip() for part in layer.split("|") for name in part.split(":")}
        for layer in contracts()["layers"]["layers"]
    ]


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.layers", "--no-cache", str(tree / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_root_module_is_in_the_root_layer():
    root_layer = layer_names()[0]
    modules = {f"linli.{p.stem}" for p in (ROOT / "linli").glob("*.py") if p.stem != "__init__"}
    modules |= {  # the root's own sub-packages
        f"linli.{p.name}"
        for p in (ROOT / "linli").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert modules - root_layer == set(), "name these in the first layer of pyproject.toml"
    assert root_layer - modules == set(), "the first layer names modules that do not exist"


def test_every_product_folder_is_a_package_of_linli_and_a_layer_below_the_root():
    folders = {  # every top-level folder holding Python of the product
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and any(p.glob("*.py")) and p.name not in DEV_FOLDERS
    }
    assert folders == set(PACKAGES.values()), "map it in [tool.setuptools.package-dir]"
    code = {  # the data-only packages (community/: linli.data) hold no module to layer
        name
        for name, folder in PACKAGES.items()
        if any(p.name != "__init__.py" for p in (ROOT / folder).rglob("*.py"))
    }
    product = code - {"linli"}
    below = set().union(*layer_names()[1:])
    assert product - {"linli.sim"} == below  # the simulator has a contract of its own
    assert contracts()["sim"]["source_modules"] == ["linli.sim"]
    root_layer = layer_names()[0]
    assert set(contracts()["sim"]["forbidden_modules"]) == (product - {"linli.sim"}) | (
        root_layer - {"linli.__main__"}
    )


def test_each_file_has_one_path():
    """No symbolic links in the tree: a file has one path, in tracebacks, editors and grep."""
    tracked = subprocess.run(
        ["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    links = [line.split("\t", 1)[1] for line in tracked if line.startswith("120000")]
    assert links == []


def test_no_two_modules_import_each_other():
    """A cycle hidden by an import inside a function is a cycle too."""
    assert cycles(ROOT) == set()


def test_the_tree_keeps_its_layers():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("rules/reading.py", "import linli.settings", "linli.rules.reading -> linli.settings"),
        ("rules/case.py", "import sqlalchemy", "linli.rules.case -> sqlalchemy"),
        ("ingest/writer.py", "import linli.api.app", "linli.ingest.writer -> linli.api.app"),
        ("store/cases.py", "import linli.ingest.spool", "linli.store.cases -> linli.ingest.spool"),
        ("firmware-sim/device.py", "import linli.rules.reading", "linli.sim.device -> linli.rules"),
    ],
    ids=[
        "the core imports the settings: an upward import",
        "the core imports a database library",
        "ingest imports the API: siblings depend on each other",
        "the store imports ingest: an adapter below imports one above",
        "the simulated firmware imports linli",
    ],
)
def test_a_deliberate_wrong_import_breaks_a_contract(tmp_path, module, line, broken):
    tree = tmp_path / "tree"
    tree.mkdir()
    keep = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PACKAGES.values():
        shutil.copytree(ROOT / name, tree / name, ignore=keep)
    shutil.copy(ROOT / "pyproject.toml", tree)
    target = tree / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate\n")
    done = lint(tree)
    assert done.returncode != 0
    assert broken in done.stdout, done.stdout
