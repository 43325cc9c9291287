"""The wheel holds every package of the product folders, and their data; installed, it runs.

Each product folder is installed as a package of `linli` by pyproject.toml's
`[tool.setuptools.package-dir]` (the one list, read here as tools/layout.py reads it),
and setuptools finds the packages inside each folder: a new sub-package must reach the
wheel without anyone remembering to list it. The installed wheel must run `linli demo`
from its own files, not from a checkout's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tools.layout import package_dirs

ROOT = Path(__file__).resolve().parent.parent


def packages_in_the_tree() -> set[str]:
    """Every folder with an __init__.py under each mapped folder, named as installed."""
    return {
        ".".join([name, *init.parent.relative_to(folder).parts])
        for name, folder in package_dirs(ROOT).items()
        for init in folder.rglob("__init__.py")
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a fresh copy (setuptools reuses a build/ folder it finds)."""
    tmp = tmp_path_factory.mktemp("wheel")
    tree = tmp / "tree"
    keep = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in package_dirs(ROOT).values():
        shutil.copytree(folder, tree / folder.name, ignore=keep)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree)
    wheels = tmp / "wheels"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"),
            *("-w", str(wheels), str(tree)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = wheels.glob("linli-*.whl")
    return built


def test_the_wheel_holds_every_package_and_its_data(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    in_wheel = {
        n.removesuffix("/__init__.py").replace("/", ".")
        for n in names
        if n.endswith("/__init__.py")
    }
    assert len(packages_in_the_tree()) > 10
    assert packages_in_the_tree() - in_wheel == set()
    assert {n.split("/")[0] for n in names} == {"linli", "linli-0.1.0.dist-info"}
    for data in (
        "linli/store/alembic/versions/0004.py",
        "linli/store/alembic/script.py.mako",
        "linli/sim/scenarios/tianxin.toml",
        "linli/data/tianxin.toml",
        "linli/dashboards/json/overview.json",
        "linli/api/board/templates/case.html",
    ):
        assert data in names


@pytest.mark.servers  # runs `linli demo --check` from the installed wheel
def test_the_installed_wheel_loads_the_demo_from_its_own_files(wheel: Path, tmp_path: Path):
    # A fresh venv with the wheel installed; its dependencies are this environment's (a
    # .pth names our site-packages: a path only, so our editable linli is not on it).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"),
            *("-q", "--no-index", str(wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"  # not the checkout: no community/ or firmware-sim/ here
    elsewhere.mkdir()
    done = subprocess.run(
        [str(venv / "bin" / "linli"), "demo", "--check"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tianxin, liming, street, scenario = done.stdout.splitlines()
    data = site / "linli" / "data"
    assert tianxin == f"community {data / 'tianxin.toml'}: tianxin, 25 sites, 40 sensors"
    assert liming.startswith(f"community {data / 'liming.toml'}: liming, ")
    assert street.startswith("street ")
    assert scenario.startswith(
        f"scenario  {site / 'linli' / 'sim' / 'scenarios' / 'tianxin.toml'}: "
    )
    assert scenario.endswith(" 15 events")
    assert str(ROOT) not in done.stdout


def test_the_image_context_leaves_out_the_local_state():
    """deploy/Dockerfile copies the repository: not the venvs, ./var, caches or .git."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    for name in (".git", ".venv/", ".venv-fuzz/", "var/", "**/__pycache__/", ".mypy_cache/"):
        assert name in ignored
