"""Where each product package lives: pyproject.toml's `[tool.setuptools.package-dir]`.

The one list of the product's packages and folders (docs/architecture.md, "One path per
file"). setuptools reads it to build the wheel and the editable install; the type check
(tools/typecheck.py), the layer check (tools/layers.py) and the tests read it here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# checked beside the product, each as the package its folder names
DEV_FOLDERS = ("tests", "bench", "tools")


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Each mapped package name (`linli`, `linli.rules`, `linli.sim`, ...) → its folder."""
    doc = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = doc["tool"]["setuptools"]["package-dir"]
    return {name: root / folder for name, folder in mapping.items()}


def modules_in(name: str, folder: Path) -> dict[str, Path]:
    """Every module under a package folder, named as installed (`linli.rules.engine.decide`)."""
    out: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.py")):
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if "__pycache__" in parts or not all(p.isidentifier() for p in parts):
            continue  # alembic's revisions (0001.py) are loaded by path, not imported
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([name, *parts])] = path
    return out


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the product, the tests, the benchmarks and these tools → its file."""
    out: dict[str, Path] = {}
    for name, folder in package_dirs(root).items():
        out |= modules_in(name, folder)
    for name in DEV_FOLDERS:
        if (root / name / "__init__.py").exists():
            out |= modules_in(name, root / name)
    return out
