"""The repository is self-contained: no tracked file points outside it, every `docs/...` path
named in code or docs exists, and every relative link of the README and docs/ resolves (to a
file, and to a heading where it names one)."""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
OUTSIDE = "../" + "shared"  # spelt in two pieces so this file does not match itself
TEXT = (".py", ".md", ".toml", ".txt", ".c", ".sh", ".cfg", ".yaml", ".yml", ".json")


def _tracked() -> list[pathlib.Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = [REPO / line for line in out.splitlines()]
    return [f for f in files if f.is_file() and (f.suffix in TEXT or f.name in ("Makefile", "run"))
            and "benchmarks/results" not in f.as_posix()]


def _slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def test_no_tracked_file_points_outside_the_repo():
    hits = [str(f.relative_to(REPO)) for f in _tracked() if OUTSIDE in f.read_text(errors="replace")]
    assert not hits, hits


def test_every_docs_path_named_in_the_repo_exists():
    missing = []
    for f in _tracked():
        for m in re.finditer(r"(?<![\w/.])docs/[A-Za-z0-9_\-./]*[A-Za-z0-9_\-/]", f.read_text(errors="replace")):
            path = m.group(0)
            if not (REPO / path).exists():
                missing.append(f"{f.relative_to(REPO)}: {path}")
    assert not missing, missing


def test_markdown_links_resolve():
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    assert len(pages) > 5
    bad = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md":
                slugs = {_slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), re.MULTILINE)}
                if anchor not in slugs:
                    bad.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not bad, bad


def test_readme_fits_on_a_page():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
