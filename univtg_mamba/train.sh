#!/usr/bin/env bash
# Train a UniVTG / UniVTG-Mamba config, then test its final checkpoint with the same config and overrides;
# the test writes WORK_DIR/<metadata>_submission.jsonl (QVHighlights format, for
# `python -m univtg_mamba.evaluate` or CodaLab) and WORK_DIR/test_metrics.json (the `brief` metrics).
#
#   univtg_mamba/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]      (see tools/train_task.sh)
#
# Example: univtg_mamba/train.sh univtg_mamba/configs/qvhighlights_dbm.py work_dirs/qvhl_dbm train_cfg.max_epochs=100
exec "$(dirname "$0")/../tools/train_task.sh" "$@"
