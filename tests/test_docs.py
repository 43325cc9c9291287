"""The docs hold: the configuration page is what the code says, every relative link and
anchor resolves, every section the code cites exists in the document it names, and no
comment cites a ticket number for a reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.configdocs import DOC_PATH, generate

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SECTION = "\N{SECTION SIGN}"  # spelled out, so this file cites nothing itself

SKIP_DIRS = frozenset(
    {".git", ".venv", ".venv-fuzz", "var", "__pycache__", ".mypy_cache", ".ruff_cache"}
    | {".pytest_cache", "build", "dist", "node_modules", "results"}
)
TEXT_SUFFIXES = frozenset({".py", ".md", ".toml", ".html", ".txt", ".yml", ".yaml", ".conf"})
TEXT_NAMES = frozenset({"dev", "run", "Dockerfile"})
# Copies of documents written outside the project: their own words, their own citations.
REFERENCES = frozenset({"docs/contract.md", "docs/hj212.md", "docs/domain.md", "docs/style.md"})
# Pages other branches add; a link to one is checked once it exists.
PENDING_PAGES = frozenset({"docs/privacy.md", "docs/security.md"})

# What a section sign may follow: the document it is a section of.
CITED = (
    r"CONTRACT|STYLE|GB \d+(?:\.\d+)?(?:-\d{4})?|HJ \d+(?:\.\d+)?(?:-\d{4})?"
    r"|DB\d+/\d+(?:-\d{4})?|RFC \d+|MQTT 3\.1\.1,?"
)
CITATION = re.compile(rf"(?:{CITED}) {SECTION}\s*\d$")
ANY_SECTION = re.compile(rf"{SECTION}\s*\d")
CONTRACT_CITATION = re.compile(rf"\bcontract(?:'s)?\s*{SECTION}\s*(\d+)", re.IGNORECASE)
STYLE_CITATION = re.compile(rf"\bSTYLE {SECTION}\s*(\d+)")


def tree_files() -> Iterator[Path]:
    """The project's text files: code, docs, configuration, templates (no symlinks)."""
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for path in sorted(folder.iterdir()):
            if path.is_symlink():
                continue  # linli/<pkg> -> ../<pkg>: the folder itself is walked
            if path.is_dir():
                if path.name not in SKIP_DIRS and not path.name.endswith(".egg-info"):
                    stack.append(path)
            elif path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
                yield path


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def cited_lines(pattern: re.Pattern[str]) -> Iterator[tuple[str, int, re.Match[str]]]:
    for path in tree_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in pattern.finditer(line):
                yield rel(path), n, match


def contract_sections() -> set[int]:
    text = (DOCS / "contract.md").read_text(encoding="utf-8")
    return {int(n) for n in re.findall(r"^## (\d+)\. ", text, re.MULTILINE)}


def test_the_configuration_page_is_what_settings_and_the_community_file_say():
    assert DOC_PATH == DOCS / "configuration.md"
    assert DOC_PATH.read_text(encoding="utf-8") == generate(), (
        "docs/configuration.md is stale: run `.venv/bin/linli config docs > "
        "docs/configuration.md` and commit it"
    )


def test_every_contract_citation_names_a_section_of_docs_contract_md():
    sections = contract_sections()
    assert sections >= set(range(1, 13))
    wrong = [
        f"{where}:{n}: {m.group(0)!r}"
        for where, n, m in cited_lines(CONTRACT_CITATION)
        if where not in REFERENCES
        and (not m.group(0).startswith("CONTRACT ") or int(m.group(1)) not in sections)
    ]
    assert not wrong, "cite the contract as CONTRACT §N, N a `## N.` heading:\n" + "\n".join(wrong)


def test_the_contracts_own_cross_references_name_its_sections():
    sections = contract_sections()
    text = (DOCS / "contract.md").read_text(encoding="utf-8")
    cited = {int(n) for n in re.findall(rf"{SECTION}(\d+)", text)}
    assert cited and cited <= sections


def test_every_style_citation_names_an_item_of_docs_style_md():
    text = (DOCS / "style.md").read_text(encoding="utf-8")
    items = {int(n) for n in re.findall(r"^(\d+)\. \*\*", text, re.MULTILINE)}
    wrong = [
        f"{where}:{n}: {m.group(0)!r}"
        for where, n, m in cited_lines(STYLE_CITATION)
        if int(m.group(1)) not in items
    ]
    assert items and not wrong, "\n".join(wrong)


def test_every_section_sign_names_its_document():
    """`§5.4` alone could be the contract's or a standard's: the text says which."""
    bare = []
    for where, n, m in cited_lines(ANY_SECTION):
        if where in REFERENCES or where == "tests/test_docs.py":
            continue
        line = (ROOT / where).read_text(encoding="utf-8").splitlines()[n - 1]
        head = line[: m.end()]
        if not CITATION.search(head):
            bare.append(f"{where}:{n}: {line.strip()[:100]}")
    assert not bare, "name the document before §: CONTRACT §N, GB 3096-2008 §5.4, …\n" + (
        "\n".join(bare)
    )


# A ticket number where the reason should be: the word "issue" (or "issues") and a number.
TICKET = re.compile(r"\bissues?\s*(?:#\s*)?\d|\(issues?\s*#", re.IGNORECASE)


def test_no_code_comment_or_page_names_a_ticket_number():
    """Comments and pages say what the code guards against, not which ticket asked."""
    found = [f"{where}:{n}: {m.string.strip()[:100]}" for where, n, m in cited_lines(TICKET)]
    assert not found, "say the reason in plain words instead:\n" + "\n".join(found)


# -- links ---------------------------------------------------------------------------

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def prose(path: Path) -> Iterator[tuple[int, str]]:
    """A page's lines outside code blocks, inline code removed."""
    fenced = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield n, re.sub(r"`[^`]*`", "", line)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose(path):
        heading = re.match(r"^#{1,6} (.+?)\s*#*$", line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))  # a link: its text
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def links(path: Path) -> Iterator[tuple[int, str]]:
    for n, line in prose(path):
        for match in LINK.finditer(line):
            target = match.group(1)
            if not re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                yield n, target


@pytest.mark.parametrize("page", pages(), ids=lambda p: rel(p))
def test_every_relative_link_and_anchor_resolves(page: Path):
    broken = []
    for n, target in links(page):
        file_part, _, anchor = target.partition("#")
        goal = (page.parent / file_part).resolve() if file_part else page
        if not goal.is_relative_to(ROOT):
            broken.append(f"{rel(page)}:{n}: {target} leaves the repository")
            continue
        if rel(goal) in PENDING_PAGES and not goal.exists():
            continue
        if not goal.exists():
            broken.append(f"{rel(page)}:{n}: {target}: no such file")
        elif anchor and (goal.suffix != ".md" or anchor not in anchors(goal)):
            broken.append(f"{rel(page)}:{n}: {target}: no heading makes #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_readme_links_every_docs_page_and_fits_a_screen():
    readme = ROOT / "README.md"
    linked = {(ROOT / t.partition("#")[0]).resolve() for _, t in links(readme)}
    unlinked = [rel(p) for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not unlinked, f"README.md links no {unlinked}"
    assert len(readme.read_text(encoding="utf-8").splitlines()) < 200
