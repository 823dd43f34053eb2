#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
#        tools/dist_test.sh --model FOLDER_OR_HUB_ID GPUS [test.py options]
# e.g. tools/dist_test.sh configs/haris_refcoco.py CKPT 4 --splits all
if [ "$1" = --model ]; then
  MODEL=(--model "$2")
else
  MODEL=("$1" "$2")
fi
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR=$(dirname "$0")

PYTHONPATH="$DIR/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$DIR/test.py" \
    "${MODEL[@]}" \
    --launcher pytorch "${@:4}"
