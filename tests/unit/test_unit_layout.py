"""The unit tree mirrors the source: each folder under tests/unit names a package of tunestream."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    p.name
    for base in (ROOT / "services" / "tunestream", ROOT / "shared" / "tunestream")
    for p in base.iterdir()
    if (p / "__init__.py").is_file()
}


def test_each_unit_folder_is_a_source_package() -> None:
    folders = {p.name for p in (ROOT / "tests" / "unit").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders - PACKAGES == set(), f"tests/unit folders with no package of that name: {folders - PACKAGES}"


def test_test_file_names_are_unique() -> None:
    # pytest imports test modules by base name: two of the same name break collection confusingly.
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
