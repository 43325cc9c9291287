"""Generate the dashboards' JSON (dashboards/json/) from the Python source of truth.

`linli dashboards build` (or `python -m linli.dashboards.build`, always with the
defaults) rewrites the files; `--check` fails when the files differ from what the code
generates. The committed files are built with the defaults (GB 3096 06:00/22:00 in
Asia/Shanghai); `linli dashboards build --config FILE` builds a community's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from linli.dashboards import devices, fume, noise, overview
from linli.dashboards.grafana import Json
from linli.dashboards.options import Options

JSON_DIR: Final = Path(__file__).resolve().parent / "json"

BOARDS: Final[dict[str, Callable[[Options], Json]]] = {
    "overview": overview.build,
    "noise": noise.build,
    "fume": fume.build,
    "devices": devices.build,
}


def build_all(opts: Options | None = None) -> dict[str, Json]:
    """Every dashboard by file stem."""
    opts = opts or Options()
    return {name: make(opts) for name, make in BOARDS.items()}


def render(board: Json) -> str:
    """The JSON text as committed: stable key order, UTF-8, 2-space indent."""
    return json.dumps(board, ensure_ascii=False, indent=2) + "\n"


def write_all(directory: Path = JSON_DIR, opts: Options | None = None) -> list[Path]:
    """Write every dashboard to `directory`/<name>.json; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, board in build_all(opts).items():
        path = directory / f"{name}.json"
        path.write_text(render(board), encoding="utf-8")
        paths.append(path)
    return paths


def stale(directory: Path = JSON_DIR, opts: Options | None = None) -> list[str]:
    """Names whose committed file differs from the generated JSON."""
    out = []
    for name, board in build_all(opts).items():
        path = directory / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(board):
            out.append(name)
    return out


def generate(opts: Options, directory: Path = JSON_DIR, check: bool = False) -> int:
    """Write the JSON files to `directory`, or with `check` report stale ones (exit 1)."""
    if check:
        names = stale(directory, opts)
        if names:
            print(f"stale dashboards: {', '.join(names)}; run `linli dashboards build`")
            return 1
        return 0
    for path in write_all(directory, opts):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Regenerate the JSON files with the defaults, or with --check report stale ones."""
    parser = argparse.ArgumentParser(prog="python -m linli.dashboards.build")
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    return generate(Options(), check=args.check)


if __name__ == "__main__":
    sys.exit(main())
