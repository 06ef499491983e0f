#!/usr/bin/env bash
# make test: start the stack (unless it already runs), run unit then integration tests, stop what we started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"
started_stack=0
if ! bash deploy/stack.sh status | grep -qv "running" ; then :; fi
if bash deploy/stack.sh status 2>/dev/null | grep -Eq "stopped|not running"; then started_stack=1; fi
[[ -f .stack/stack.env ]] || started_stack=1
bash deploy/stack.sh up
cleanup() { if ((started_stack)); then bash deploy/stack.sh down || true; fi; }
trap cleanup EXIT
tunestream db upgrade
mkdir -p test-artifacts
python -m pytest tests -q -p no:cacheprovider --junitxml=test-artifacts/junit.xml "$@"
