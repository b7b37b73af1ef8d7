"""TeSTra-Mamba: online action anticipation on EPIC-Kitchens-100, TeSTra and causal / streaming Mamba.

Importing the package registers the data set, collate function, models, metric and hooks; `TASK`
describes the task to the generic tools.
"""
import torch

from common.engine import TaskSpec

from . import datasets, hooks, metrics, models  # noqa: F401  (registers the components)
from .convert import convert_checkpoint
from .plots import plot_predictions
from .toy import make_toy_data


def flops_inputs(cfg):
    """One training window: history (1, H, C)."""
    data = cfg.train_dataloader.dataset
    ticks = data.get("history_ticks") or data.long_memory_ticks + data.work_memory_ticks
    return (torch.randn(1, ticks, sum(cfg.model.input_dims)),)


TASK = TaskSpec(
    name="testra_mamba",
    toy_data_root="data/toy/testra_mamba",
    make_toy_data=make_toy_data,
    compare_configs=(
        "testra_mamba/configs/toy/testra.py",
        "testra_mamba/configs/toy/testra_mamba.py",
        "testra_mamba/configs/toy/mamba_stream.py",
    ),
    table_metrics=("overall_verb", "overall_noun", "overall_action", "unseen_verb", "unseen_noun", "unseen_action",
                   "tail_verb", "tail_noun", "tail_action", "stream_ms"),
    flops_inputs=flops_inputs,
    plot_predictions=plot_predictions,
    demo_epochs=6,
    convert_checkpoint=convert_checkpoint,
)
