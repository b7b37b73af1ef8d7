#!/usr/bin/env bash
# Train a PDVC / PDVC-Mamba config, then test its final checkpoint with the same config and overrides; the
# test writes WORK_DIR/results.json (PDVC's results json, every query, with the joint ranking to apply),
# WORK_DIR/results_reranked.json (the scored dense captions) and WORK_DIR/test_metrics.json.
#
#   pdvc_mamba/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]      (see tools/train_task.sh)
#
# Example: pdvc_mamba/train.sh pdvc_mamba/configs/anet_c3d_pdvc_dbm.py work_dirs/dbm train_dataloader.batch_size=8
exec "$(dirname "$0")/../tools/train_task.sh" "$@"
