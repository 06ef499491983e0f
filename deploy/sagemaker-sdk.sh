#!/usr/bin/env bash
# SageMaker's own Python SDK in a virtual environment of its own: v2 ($STACK_DIR/sagemaker-sdk2), or
# v3 with `sagemaker-sdk.sh 3` ($STACK_DIR/sagemaker-sdk3), for tests/integration/test_sagemaker_sdk.py
# and examples/sagemaker_sdk/. Its own, because the SDK pins versions (packaging, protobuf, attrs)
# that tunestream's environment need not share. A second run with the same pin does nothing; prints
# the interpreter's path on its last line.
set -euo pipefail
SERVICE=sagemaker-sdk
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAJOR="${1:-2}"
case "$MAJOR" in
  2) PIN="sagemaker==2.257.7" ;;
  3) PIN="sagemaker==3.27.0" ;;
  *) die "usage: sagemaker-sdk.sh [2|3]" ;;
esac
# Every package the SDK pulls in, pinned to a set that installed and passed the tests: the SDK's own
# ranges are wide, so without them an install resolves differently on each day a dependency releases.
LOCK="$DEPLOY_DIR/sagemaker-sdk/constraints-$MAJOR.txt"
VENV="$STACK_DIR/sagemaker-sdk$MAJOR"
MARK="$VENV/.installed"
WANT="$PIN $(sha256sum "$LOCK" | cut -c1-16)"
if [[ ! -f "$MARK" || "$(cat "$MARK")" != "$WANT" ]]; then
  log "installing $PIN into $VENV (log: $LOG_DIR/sagemaker-sdk$MAJOR.log)"
  venv_install "$PIN" "$VENV" "$LOG_DIR/sagemaker-sdk$MAJOR.log" -c "$LOCK" "$PIN" ||
    die "pip install $PIN failed (log: $LOG_DIR/sagemaker-sdk$MAJOR.log)"
  printf '%s' "$WANT" >"$MARK"
fi
echo "$VENV/bin/python"
