#!/usr/bin/env bash
# make test: lint, start the stack (unless it already runs), run every test, stop what this script started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"

mkdir -p test-artifacts
# Kubernetes is built from the Go module proxy the first time (minutes on 2 cores, then cached outside
# the checkout); in the background while the rest installs and starts, waited for before the tests.
bash deploy/k8s.sh build >test-artifacts/k8s-build.log 2>&1 &
k8s_build=$!

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
# The private Docker engine for tests/integration/test_containers.py, likewise stopped only if started here.
started_docker=0
if bash deploy/docker.sh status | grep -qw stopped || [[ ! -f .stack/docker.env ]]; then started_docker=1; fi
# The private Slurm cluster for tests/integration/test_slurm.py, likewise.
started_slurm=0
if bash deploy/slurm.sh status | grep -qw stopped || [[ ! -f .stack/slurm.env ]]; then started_slurm=1; fi
# Kubernetes: its test module starts and stops it; this is for a run cut short.
started_k8s=0
if bash deploy/k8s.sh status | grep -q "kubelet *stopped"; then started_k8s=1; fi
cleanup() {
  if ((started_k8s)); then bash deploy/k8s.sh down >/dev/null 2>&1 || true; fi
  if ((started_slurm)); then bash deploy/slurm.sh down || true; fi
  if ((started_docker)); then bash deploy/docker.sh down || true; fi
  if ((started_stack)); then bash deploy/stack.sh down || true; fi
}
trap cleanup EXIT
bash deploy/stack.sh up
tunestream db upgrade

# No engine (no docker.io, no root, no cgroups) is no reason to fail: those tests skip themselves.
if ! { bash deploy/docker.sh up && bash deploy/images/build-trainer.sh; } 2>&1 | tee test-artifacts/docker.log; then
  reason=$(grep -v '^[[:space:]]*$' test-artifacts/docker.log | tail -n 1 || true)
  # Read by the tests' fixture, which would otherwise try (and wait for) the same again.
  export TUNESTREAM_CONTAINER_TESTS_SKIP="${reason:-deploy/docker.sh up or deploy/images/build-trainer.sh failed}"
  echo "container tests will be skipped: $TUNESTREAM_CONTAINER_TESTS_SKIP" >&2
fi
# Chromium + chromedriver for the dashboard's browser tests; without them those tests skip themselves.
if ! bash deploy/browser.sh 2>&1 | tee test-artifacts/browser.log; then
  reason=$(grep -v '^[[:space:]]*$' test-artifacts/browser.log | tail -n 1 || true)
  export TUNESTREAM_BROWSER_TESTS_SKIP="${reason:-deploy/browser.sh failed}"
  echo "browser tests will be skipped: $TUNESTREAM_BROWSER_TESTS_SKIP" >&2
fi
if ! bash deploy/slurm.sh up 2>&1 | tee test-artifacts/slurm.log; then
  reason=$(grep -v '^[[:space:]]*$' test-artifacts/slurm.log | tail -n 1 || true)
  export TUNESTREAM_SLURM_TESTS_SKIP="${reason:-deploy/slurm.sh up failed}"
  echo "slurm tests will be skipped: $TUNESTREAM_SLURM_TESTS_SKIP" >&2
fi
# Ray is installed here; tests/integration/test_ray.py starts its cluster (deploy/ray.sh up) and stops
# it after, as an idle Ray cluster takes a share of the CPU that every other test would miss.
if ! bash deploy/ray.sh install 2>&1 | tee test-artifacts/ray.log; then
  reason=$(grep -v '^[[:space:]]*$' test-artifacts/ray.log | tail -n 1 || true)
  export TUNESTREAM_RAY_TESTS_SKIP="${reason:-deploy/ray.sh install failed}"
  echo "ray tests will be skipped: $TUNESTREAM_RAY_TESTS_SKIP" >&2
fi
# SageMaker's own SDK (v2 and v3) in environments of their own, for tests/integration/test_sagemaker_sdk.py.
if ! { bash deploy/sagemaker-sdk.sh && bash deploy/sagemaker-sdk.sh 3; } 2>&1 | tee test-artifacts/sagemaker-sdk.log; then
  reason=$(grep -v '^[[:space:]]*$' test-artifacts/sagemaker-sdk.log | tail -n 1 || true)
  export TUNESTREAM_SDK_TESTS_SKIP="${reason:-deploy/sagemaker-sdk.sh failed}"
  echo "SageMaker SDK tests will be skipped: $TUNESTREAM_SDK_TESTS_SKIP" >&2
fi
# The private Kubernetes for tests/integration/test_kubernetes.py: built above; the test module starts
# the cluster (deploy/k8s.sh up) and stops it after, as Ray's.
# Its apt packages (containerd, the CNI plugins) only now, as apt runs one at a time.
if ! { wait "$k8s_build" && bash deploy/k8s.sh install >>test-artifacts/k8s-build.log 2>&1; }; then
  cat test-artifacts/k8s-build.log >&2
  reason=$(grep -v '^[[:space:]]*$' test-artifacts/k8s-build.log | tail -n 1 || true)
  export TUNESTREAM_K8S_TESTS_SKIP="${reason:-deploy/k8s.sh build failed}"
  echo "kubernetes tests will be skipped: $TUNESTREAM_K8S_TESTS_SKIP" >&2
fi
python -m pytest tests -q -p no:cacheprovider -rs --durations=10 --junitxml=test-artifacts/junit.xml "$@"
