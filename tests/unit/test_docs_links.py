"""Every relative link in README.md and docs/*.md reaches a file, and its #anchor a heading there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_resolve() -> None:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    anchors = {f: {slug(m.group(1)) for m in re.finditer(r"(?m)^#+ (.*)$", f.read_text())} for f in files}
    broken = []
    for f in files:
        # Code (fenced blocks, inline spans) is not prose: a regex there may look like a link.
        prose = re.sub(r"`[^`\n]*`", "", re.sub(r"(?s)```.*?```", "", f.read_text()))
        for link in re.findall(r"\]\(([^)\s]+)\)", prose):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = (f.parent / path).resolve() if path else f
            if not target.exists():
                broken.append(f"{f.name}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in anchors.get(target, set()):
                broken.append(f"{f.name}: {link} (no such heading)")
    assert broken == []
