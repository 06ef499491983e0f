"""deploy/lib.sh's venv_install: three tries, each failure's log tail shown, nothing left behind.

Offline on purpose (pip --no-index): what is tested is the loop around pip, not PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "deploy" / "lib.sh"
# Runs venv_install with the script's arguments and prints its return code last.
SCRIPT = 'source "$LIB"; venv_install demo "$1" "$2" "${@:3}"; echo "rc=$?"'


def venv_install(tmp: Path, *pip_args: str, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LIB": str(LIB),
        "TUNESTREAM_STACK_DIR": str(tmp / "stack"),  # lib.sh makes its state folders there, not in the repo
        "VENV_INSTALL_PAUSE_S": "0",
    }
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["bash", "-c", SCRIPT, "bash", str(tmp / "venv"), str(tmp / "install.log"), *pip_args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_three_failed_tries_return_1_with_each_log_tail_and_no_environment(tmp_path: Path) -> None:
    done = venv_install(tmp_path, "--no-index", "tunestream-no-such-package")
    assert done.stdout.strip().endswith("rc=1")
    for attempt in (1, 2, 3):
        assert f"installing demo failed (try {attempt} of 3)" in done.stderr
    assert done.stderr.count(f"----- last 30 lines of {tmp_path / 'install.log'} -----") == 3
    assert done.stderr.count("disk free: ") == 3
    assert "tunestream-no-such-package" in (tmp_path / "install.log").read_text()
    assert not (tmp_path / "venv").exists()


def test_a_try_that_fails_once_is_tried_again_and_its_environment_kept(tmp_path: Path) -> None:
    real = shutil.which("python3")
    assert real is not None
    shim = tmp_path / "bin"
    shim.mkdir()
    # python3 fails on its first call (the venv's creation in try 1), then is the real one.
    (shim / "python3").write_text(
        "#!/bin/bash\n"
        f'if [[ ! -e "{tmp_path / "failed-once"}" ]]; then\n'
        f'  touch "{tmp_path / "failed-once"}"; echo "simulated failure" >&2; exit 1\n'
        "fi\n"
        f'exec "{real}" "$@"\n'
    )
    (shim / "python3").chmod(0o755)
    done = venv_install(tmp_path, "--no-index", "pip", path_first=shim)
    assert done.stdout.strip().endswith("rc=0"), done.stderr
    assert "installing demo failed (try 1 of 3)" in done.stderr
    assert "(try 2 of 3)" not in done.stderr
    assert "simulated failure" in (tmp_path / "install.log").read_text()
    assert (tmp_path / "venv" / "bin" / "python").exists()
