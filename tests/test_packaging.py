"""The wheel holds every package of the product folders, and their data.

The folders are installed under `linli.` through the symlinks in linli/ and discovered
by setuptools (pyproject.toml): a new sub-package must reach the wheel without anyone
remembering to list it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("rules", "ingest", "influx", "store", "api", "notify", "dashboards", "firmware-sim")


def packages_in_the_tree() -> set[str]:
    """Every folder with an __init__.py under linli/, through its symlinks, as a module."""
    out = set()
    for folder, _dirs, files in os.walk(ROOT / "linli", followlinks=True):
        if "__init__.py" in files:
            out.add(".".join(Path(folder).relative_to(ROOT).parts))
    return out


def test_the_wheel_holds_every_package_and_its_data(tmp_path):
    # Built from a fresh copy: setuptools reuses a build/ folder it finds.
    tree = tmp_path / "tree"
    keep = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("linli", *PRODUCT):
        shutil.copytree(ROOT / name, tree / name, symlinks=True, ignore=keep)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(tree),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("linli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    in_wheel = {
        n.removesuffix("/__init__.py").replace("/", ".")
        for n in names
        if n.endswith("/__init__.py")
    }
    assert len(packages_in_the_tree()) > 10  # the glob went through the symlinks
    assert packages_in_the_tree() - in_wheel == set()
    for data in (
        "linli/store/alembic/versions/0004.py",
        "linli/store/alembic/script.py.mako",
        "linli/sim/scenarios/tianxin.toml",
        "linli/dashboards/json/overview.json",
    ):
        assert data in names
