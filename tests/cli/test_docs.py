"""The README stays a page a newcomer reads at one sitting, and every relative link and image in
it and in docs/ leads somewhere: the file exists and the #anchor names a heading of that page.

Links are read with markdown-it (which litert-torch's rich brings), so a `[x](y)` inside a code
block is not taken for a link and a heading inside a fenced block is not taken for a heading."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 220
PARSER = MarkdownIt("commonmark").enable("table")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def github_slug(text: str) -> str:
    """GitHub's heading anchor (github-slugger): lower case, punctuation dropped, each space a
    hyphen. Letters, digits, underscores and hyphens stay, non-ASCII letters included."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    tokens = PARSER.parse(page.read_text(encoding="utf-8"))
    found: set[str] = set()
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type != "heading_open":
            continue
        text = "".join(child.content for child in inline.children or ()
                       if child.type in ("text", "code_inline"))
        slug, n = github_slug(text), 0
        while (slug if n == 0 else f"{slug}-{n}") in found:
            n += 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def targets(page: Path) -> list[str]:
    """The href of every link and the src of every image on the page."""
    def walk(tokens):
        for token in tokens:
            if token.type == "link_open":
                yield str(token.attrs["href"])
            elif token.type == "image":
                yield str(token.attrs["src"])
            yield from walk(token.children or ())
    return list(walk(PARSER.parse(page.read_text(encoding="utf-8"))))


def broken_links(page: Path) -> list[str]:
    """Each relative link or image of `page` whose file is missing or whose #anchor is not a
    heading of the page it points at, with the reason."""
    broken = []
    for target in targets(page):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:  # https://..., mailto:...: not this repository's
            continue
        path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if not path.exists():
            broken.append(f"{target}: no file {path}")
        elif parts.fragment and (path.suffix != ".md" or parts.fragment not in anchors(path)):
            broken.append(f"{target}: no heading #{parts.fragment} in {path.name}")
    return broken


def test_readme_fits_a_sitting():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < README_MAX_LINES, f"README.md has {lines} lines; move details into docs/"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_image_resolves(page):
    assert targets(page), f"{page.name} links nowhere: is it a page of the docs?"
    broken = broken_links(page)
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / urlsplit(t).path).resolve() for t in targets(ROOT / "README.md")}
    assert [p.name for p in pages()[1:] if p not in linked] == []


def test_slugs_follow_github():
    # Anchors GitHub generates for these headings (github-slugger's rules).
    assert github_slug("Your own model's inputs") == "your-own-models-inputs"
    assert github_slug("fp16 arithmetic: what a GPU delegate computes") == \
        "fp16-arithmetic-what-a-gpu-delegate-computes"
    assert github_slug("Where a format drifts: pocketml diagnose") == \
        "where-a-format-drifts-pocketml-diagnose"
    assert github_slug("Export / verify, 2 x") == "export--verify-2-x"


def test_the_checker_finds_what_is_broken(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("# Here\n\n[ok](other.md#same-1) [ok](#here) [web](https://example.org/x)\n"
                    "[gone](missing.md) [bad anchor](other.md#same-2) ![img](no.png)\n\n"
                    "```\n[not a link](nowhere.md)\n```\n", encoding="utf-8")
    assert [line.split(":")[0] for line in broken_links(page)] == \
        ["missing.md", "other.md#same-2", "no.png"]
