#!/usr/bin/env bash
# Train a TeSTra / Mamba anticipation config, then test its final checkpoint with the same config and
# overrides: the test writes WORK_DIR/anticipation_scores.npz (RULSTM's score file: ids, verb_scores,
# noun_scores, action_scores; `python -m testra_mamba.evaluate --annotations DIR --scores FILE` re-scores it),
# WORK_DIR/challenge.json (the EPIC-Kitchens anticipation submission) and WORK_DIR/test_metrics.json.
#
#   testra_mamba/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]      (see tools/train_task.sh)
#
# Example: testra_mamba/train.sh testra_mamba/configs/testra_ek100.py work_dirs/testra train_dataloader.batch_size=16
exec "$(dirname "$0")/../tools/train_task.sh" "$@"
