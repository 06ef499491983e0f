"""tests/ci_no_skips.py: under CI=true a skipped test or test module fails; elsewhere it skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.ci_no_skips",
            "--continue-on-collection-errors",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_skips_fail_only_under_ci(tmp_path: Path) -> None:
    (tmp_path / "test_some.py").write_text(
        "import pytest\n"
        "def test_skips():\n    pytest.skip('no engine here')\n"
        "def test_passes():\n    assert True\n"
        "@pytest.mark.xfail(reason='known')\ndef test_expected_failure():\n    assert False\n"
    )
    (tmp_path / "test_module_skip.py").write_text(
        "import pytest\npytest.importorskip('no_such_module_for_this_test')\ndef test_never():\n    pass\n"
    )
    local = run(tmp_path, None)
    assert local.returncode == 0, local.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in local.stdout
    ci = run(tmp_path, "true")
    assert ci.returncode != 0
    assert "skipped under CI=true, where every test must run: Skipped: no engine here" in ci.stdout
    assert "no_such_module_for_this_test" in ci.stdout
