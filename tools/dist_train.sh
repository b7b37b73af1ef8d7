#!/usr/bin/env bash
# Train with NPROC processes per node through torchrun and mmengine's pytorch launcher:
#   tools/dist_train.sh CONFIG NPROC [tools/train.py options]
# Several nodes: run it on each with NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT set alike.
# Backend: nccl on CUDA machines, gloo without CUDA (see common/engine/runner.py).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
if ! [[ $NPROC =~ ^[1-9][0-9]*$ ]]; then
    echo "error: NPROC '$NPROC' is not a positive number of processes; usage: $0 CONFIG NPROC [train.py options]" >&2
    exit 2
fi

exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${MASTER_PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
