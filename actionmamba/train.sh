#!/usr/bin/env bash
# Train an ActionFormer / ActionMamba config, then test its final (EMA) checkpoint with the same
# config and overrides; the test writes WORK_DIR/results.json (ActivityNet format, for
# `python -m actionmamba.evaluate` or a submission) and WORK_DIR/test_metrics.json.
#
#   actionmamba/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]      (see tools/train_task.sh)
#
# Example: actionmamba/train.sh actionmamba/configs/thumos14_i3d_dbm.py work_dirs/dbm train_cfg.max_epochs=40
exec "$(dirname "$0")/../tools/train_task.sh" "$@"
