#!/usr/bin/env bash
# The calling convention of every task's train.sh:   TASK/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]
# Trains CONFIG, then tests its best checkpoint (save_best) or else its last, with the same config
# and overrides (tools/train.py --test): the task's prediction file(s) and WORK_DIR/test_metrics.json.
# WORK_DIR defaults to work_dirs/<config name>; KEY=VALUE pairs override training and testing alike.
# Run from the repository root (the configs' data paths are relative to it). How the arguments are told
# apart (a mistyped override is an error, never a work dir): tools/task_args.sh.
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,7p' "$0" >&2
    exit 2
fi
source "$(dirname "$0")/task_args.sh"
parse_task_args "" "$@"
if [ ${#overrides[@]} -gt 0 ]; then
    overrides=(--cfg-options "${overrides[@]}")
fi
exec "${PYTHON:-python}" "$(dirname "$0")/train.py" "$config" --work-dir "$work_dir" --test "${overrides[@]}"
