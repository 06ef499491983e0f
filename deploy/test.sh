#!/usr/bin/env bash
# make test: lint, start the stack (unless it already runs), run every test, stop what this script started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"

ruff check .
ruff format --check .
mypy shared/tunestream services/tunestream

# The compose test needs a compose implementation; Debian's docker-compose is one apt call away.
if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    (apt-get install -y -q docker-compose >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q docker-compose >/dev/null 2>&1; }) ||
      echo "note: could not install docker-compose; the compose config test will be skipped" >&2
  fi
fi

started_stack=0
if bash deploy/stack.sh status | grep -qw stopped || [[ ! -f .stack/stack.env ]]; then started_stack=1; fi
cleanup() { if ((started_stack)); then bash deploy/stack.sh down || true; fi; }
trap cleanup EXIT
bash deploy/stack.sh up
tunestream db upgrade
mkdir -p test-artifacts
python -m pytest tests -q -p no:cacheprovider -rs --durations=10 --junitxml=test-artifacts/junit.xml "$@"
