"""Service packages talk over Kafka, not through each other's modules.

A service package (services/tunestream/<name>/) may import the shared library (shared/tunestream)
and itself. Only the composition roots import services: `runtime` and the `cli` start them, `replay`
runs the suggester's and the tracker's code on a recorded log, and the `bench` drives the
suggester's own decision code. A new import across services fails here (and in `make lint`): put the
shared thing in shared/tunestream instead.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services" / "tunestream"
ALLOWED = {
    "runtime": {"*"},
    "cli": {"*"},
    "replay": {"suggester", "tracker"},
    "bench": {"suggester"},
}


def packages() -> set[str]:
    return {p.name for p in SERVICES.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def crossings() -> list[str]:
    services = packages()
    problems = []
    for path in sorted(SERVICES.rglob("*.py")):
        parts = path.relative_to(SERVICES).parts
        source = parts[0] if len(parts) > 1 else path.stem
        allowed = ALLOWED.get(source, set())
        for line, module in imported_modules(path):
            names = module.split(".")
            if names[0] != "tunestream" or len(names) < 2 or names[1] not in services or names[1] == source:
                continue
            if "*" not in allowed and names[1] not in allowed:
                problems.append(f"{path.relative_to(SERVICES.parent.parent)}:{line}: {source} imports {module}")
    return problems


def test_no_service_imports_another() -> None:
    assert crossings() == []


def test_the_check_sees_a_crossing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The check itself: a launcher module importing the scheduler is reported with file and line.
    for name in ("launcher", "scheduler"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "launcher" / "bad.py").write_text("import os\nfrom tunestream.scheduler.fleet import Launcher\n")
    (tmp_path / "runtime.py").write_text("from tunestream.launcher import bad\n")
    monkeypatch.setattr(sys.modules[__name__], "SERVICES", tmp_path)
    problems = crossings()
    assert len(problems) == 1
    assert problems[0].endswith("bad.py:2: launcher imports tunestream.scheduler.fleet")
