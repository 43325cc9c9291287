"""mypy over the product as installed: each file checked under its package name.

mypy finds modules by their folders, so it cannot see that `rules/` is `linli.rules`; this
hands it every file with its module name from tools/layout.py and the options from
pyproject.toml's `[tool.mypy]`. Run: `.venv/bin/python -m tools.typecheck` (`./dev test`).
"""

from __future__ import annotations

import sys

from mypy import build
from mypy.errors import CompileError
from mypy.fscache import FileSystemCache
from mypy.main import process_options
from mypy.modulefinder import BuildSource

from tools.layout import ROOT, modules


def main(argv: list[str]) -> int:
    """Type-check every module; print mypy's messages; 1 if there are any."""
    fscache = FileSystemCache()
    config = ["--config-file", str(ROOT / "pyproject.toml")]
    _, options = process_options([*config, *argv, "-c", "pass"], fscache=fscache)
    sources = [
        BuildSource(str(path.relative_to(ROOT)), name, base_dir=str(ROOT))
        for name, path in modules().items()
    ]
    try:
        result = build.build(sources, options, fscache=fscache)
    except CompileError as e:
        print("\n".join(e.messages), file=sys.stderr)
        return 2
    for line in result.errors:
        print(line)
    files = {line.split(":", 1)[0] for line in result.errors}
    if result.errors:
        print(f"Found {len(result.errors)} errors in {len(files)} files")
        return 1
    print(f"Success: no issues found in {len(sources)} source files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
