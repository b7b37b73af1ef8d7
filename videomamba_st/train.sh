#!/usr/bin/env bash
# Train a videomamba_st config (ViT joint / ViViM on Kinetics-400, TimeSformer / TimeMamba on EPIC-Kitchens-100, the
# toy configs), then test its final checkpoint with the same config and overrides: the test writes
# WORK_DIR/predictions.json (per-video class scores, `python -m videomamba_st.evaluate` scores it) and
# WORK_DIR/test_metrics.json (top-1 / top-5 / mean class accuracy over the config's test views).
#
#   videomamba_st/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]      (see tools/train_task.sh)
#
# Example: videomamba_st/train.sh videomamba_st/configs/kinetics400_vivim_tiny_16x224.py work_dirs/vivim_t \
#              train_dataloader.batch_size=16
exec "$(dirname "$0")/../tools/train_task.sh" "$@"
