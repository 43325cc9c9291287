"""lint-imports over the product as installed: `linli.rules` read from `rules/`, and so on.

grimp (import-linter's graph) walks a package's own folder for its sub-packages; here it
is told each mapped folder of tools/layout.py instead, so pyproject.toml's contracts see
the same module names as the code. Run: `.venv/bin/python -m tools.layers [pyproject.toml]`
(`./dev test`); the arguments are lint-imports' own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from grimp.adaptors.modulefinder import ModuleFinder
from grimp.application.config import settings
from importlinter.cli import lint_imports_command

from tools.layout import ROOT, package_dirs


class MappedPackages:
    """grimp's package and module finders, reading package → folder from pyproject.toml."""

    def __init__(self, root: Path) -> None:
        self.names = {str(folder): name for name, folder in package_dirs(root).items()}
        self.finder = ModuleFinder()

    def determine_package_directories(self, package_name: str, file_system: Any) -> set[str]:
        """The folders of a root package and of every package mapped below it."""
        prefix = package_name + "."
        return {
            folder
            for folder, name in self.names.items()
            if name == package_name or name.startswith(prefix)
        }

    def find_package(self, package_name: str, package_directory: str, file_system: Any) -> Any:
        """The modules of one folder, named by the package the folder is mapped to."""
        name = self.names[package_directory]
        return self.finder.find_package(name, package_directory, file_system)


def cycles(root: Path = ROOT) -> set[tuple[str, str]]:
    """Pairs of linli's modules that import each other, directly or round about, at run
    time (an import under `if TYPE_CHECKING:` does not count; one inside a function does)."""
    import grimp

    mapped = MappedPackages(root)
    settings.configure(PACKAGE_FINDER=mapped, MODULE_FINDER=mapped)
    graph = grimp.build_graph("linli", exclude_type_checking_imports=True, cache_dir=None)
    found = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported != importer and graph.chain_exists(importer=imported, imported=importer):
                found.add((min(importer, imported), max(importer, imported)))
    return found


def main(argv: list[str]) -> None:
    """lint-imports with grimp reading the mapped folders; exits with its status."""
    configs = [a for a in argv if a.endswith(".toml")]
    root = Path(configs[0]).resolve().parent if configs else ROOT
    mapped = MappedPackages(root)
    settings.configure(PACKAGE_FINDER=mapped, MODULE_FINDER=mapped)
    lint_imports_command.main(args=argv or [str(ROOT / "pyproject.toml")])


if __name__ == "__main__":
    main(sys.argv[1:])
