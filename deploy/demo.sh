#!/usr/bin/env bash
# make demo: the stack, the five services, the example tuning job with live progress, the best job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"
bash deploy/stack.sh up
tunestream db upgrade
bash deploy/services.sh start
trap 'bash deploy/services.sh stop' EXIT
name="xgb-demo-$(date +%H%M%S)"
start=$SECONDS
tunestream tune examples/xgboost_breast_cancer/job.json --name "$name" --wait --timeout 600
echo "demo tuning job took $((SECONDS - start))s; training jobs: tunestream training-jobs $name; logs: tunestream logs <training job>"
