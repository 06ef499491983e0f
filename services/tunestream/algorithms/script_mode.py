"""The training toolkit's part for a framework estimator's script (tunestream.framework_images), run
by a launcher as `python -m tunestream.algorithms.script_mode <script arguments>`.

The launcher has unpacked the script's sourcedir.tar.gz into the job's code folder
(TUNESTREAM_CODE_DIR) and set the toolkit's SM_* variables. This changes into that folder, puts it
first on the import path, and replaces itself with `python <entry point> <script arguments>`, as the
toolkit runs a script: same process, so stops and exit statuses reach the launcher unchanged.

A requirements.txt in the code is not installed (the toolkit would pip-install it into the
container): the script runs on the launcher's Python, and a note in the job's log says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tunestream.framework_images import SCRIPT_CODE_DIR_ENV


def fail(reason: str) -> int:
    failure = Path(os.environ.get("SM_OUTPUT_DIR", ".")) / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(reason)
    print(reason, file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    code = Path(os.environ[SCRIPT_CODE_DIR_ENV])
    program = os.environ["SM_USER_ENTRY_POINT"]
    entry = (code / program).resolve()
    if not entry.is_relative_to(code.resolve()) or not entry.is_file():
        return fail(
            f"ClientError: the entry point {program!r} is not in the uploaded source directory "
            f"({os.environ.get('SM_MODULE_DIR', '')})"
        )
    if (code / "requirements.txt").is_file():
        print(
            "tunestream: requirements.txt is not installed: the script runs on the launcher's Python "
            f"({sys.executable}), which must already hold what it imports",
            file=sys.stderr,
            flush=True,
        )
    os.chdir(code)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)
    if entry.suffix == ".py":
        os.execv(sys.executable, [sys.executable, str(entry), *argv])
    if entry.suffix == ".sh":
        os.execv("/bin/sh", ["/bin/sh", str(entry), *argv])
    os.execv(str(entry), [str(entry), *argv])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
