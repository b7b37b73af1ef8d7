#!/usr/bin/env bash
# Train a config, then evaluate its final (EMA) checkpoint on the test split; the test run writes
# WORK_DIR/results.json (ActivityNet format) for `python -m actionmamba.evaluate` or a submission.
#
#   actionmamba/train.sh CONFIG [WORK_DIR] [-- extra tools/train.py options]
#
# Run from the repository root (the configs' data paths are relative to it). WORK_DIR defaults to
# work_dirs/<config name>. Example: actionmamba/train.sh actionmamba/configs/thumos14_i3d_dbm.py
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,8p' "$0"
    exit 1
fi
CONFIG=$1
shift
WORK_DIR=work_dirs/$(basename "${CONFIG%.py}")
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    WORK_DIR=$1
    shift
fi
[ "${1:-}" = "--" ] && shift
TOOLS=$(dirname "$0")/../tools

python "$TOOLS/train.py" "$CONFIG" --work-dir "$WORK_DIR" "$@"
python "$TOOLS/test.py" "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR"
echo "results: $WORK_DIR/results.json"
