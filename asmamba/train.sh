#!/usr/bin/env bash
# Train an ASFormer / ASMamba config, then test its final checkpoint with the same config and
# overrides, on one split or on several, and average the scores over splits as upstream does.
#
#   [SPLITS=K|"K L ..."|all] asmamba/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]   (see tools/train_task.sh)
#
# SPLITS defaults to 1; `all` takes every splits/test.split<K>.bundle of the (overridden) data root.
# Split K: WORK_DIR/split_K/ holds the logs, checkpoints, predictions/ (upstream's prediction files)
# and test_metrics.json; with several splits WORK_DIR/mean_metrics.json holds their unweighted mean.
# Example: SPLITS=all asmamba/train.sh asmamba/configs/asmamba_vim_gtea.py work_dirs/vim_gtea
set -euo pipefail
here=$(dirname "$0")
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,10p' "$0" >&2
    exit 2
fi
source "$here/../tools/task_args.sh"
parse_task_args "work_dirs/asmamba/$(basename "${1%.py}")" "$@"
splits=${SPLITS:-1}
if [ "$splits" = all ]; then
    splits=$("${PYTHON:-python}" -m asmamba.evaluate --list-splits "$config" "${overrides[@]}")
fi

metrics=()
rm -f "$work_dir/mean_metrics.json"  # an earlier run's mean is never taken for this run's
for k in $splits; do
    "$here/../tools/train_task.sh" "$config" "$work_dir/split_$k" "${overrides[@]}" \
        train_dataloader.dataset.split="$k" val_dataloader.dataset.split="$k" test_dataloader.dataset.split="$k"
    echo "split $k: $(cat "$work_dir/split_$k/test_metrics.json")"
    metrics+=("$work_dir/split_$k/test_metrics.json")
done
if [ ${#metrics[@]} -gt 1 ]; then
    "${PYTHON:-python}" -m asmamba.evaluate --mean "${metrics[@]}" --out "$work_dir/mean_metrics.json"
fi
