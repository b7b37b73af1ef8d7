#!/usr/bin/env bash
# Train, predict and evaluate one ASFormer / ASMamba config on one split, or on every split and then
# the unweighted mean over splits (as upstream). Run from the repository root:
#
#   asmamba/train.sh CONFIG [SPLIT|all] [KEY=VALUE ...]
#
# KEY=VALUE pairs override the config for training and prediction alike (e.g. train_cfg.max_epochs=2).
# SPLIT defaults to 1. Per split K: work dir work_dirs/asmamba/<config>/split_K/, prediction files in
# upstream's format under work_dirs/asmamba/<config>/results/split_K/, scores in results/split_K.json
# (and results/all.json for all splits). Predictions come from the last checkpoint (upstream: epoch 120).
set -euo pipefail

config=${1:?usage: asmamba/train.sh CONFIG [SPLIT|all] [KEY=VALUE ...]}
which=${2:-1}
shift $(($# < 2 ? $# : 2))
out=work_dirs/asmamba/$(basename "$config" .py)
data_root=$(python -c 'import sys; sys.path.insert(0, "."); from common.engine import load_config
print(load_config(sys.argv[1]).test_dataloader.dataset.data_root)' "$config")

if [ "$which" = all ]; then
  splits=$(ls "$data_root"/splits/test.split*.bundle | sed -E 's/.*test\.split([0-9]+)\.bundle$/\1/' | sort -n)
else
  splits=$which
fi

mkdir -p "$out/results"
for k in $splits; do
  split="train_dataloader.dataset.split=$k val_dataloader.dataset.split=$k test_dataloader.dataset.split=$k"
  python tools/train.py "$config" --work-dir "$out/split_$k" --cfg-options $split "$@"
  python tools/test.py "$config" "$(cat "$out/split_$k/last_checkpoint")" --work-dir "$out/split_$k" \
    --cfg-options $split test_evaluator.pred_dir="$out/results/split_$k" "$@"
  python -m asmamba.evaluate --data-root "$data_root" --split "$k" --pred-dir "$out/results/split_$k" \
    | tail -n 1 > "$out/results/split_$k.json"
  echo "split $k: $(cat "$out/results/split_$k.json")"
done

if [ "$which" = all ]; then
  python -m asmamba.evaluate --data-root "$data_root" --split 0 --pred-dir "$out/results" \
    | tail -n 1 > "$out/results/all.json"
  echo "mean over splits: $(cat "$out/results/all.json")"
fi
