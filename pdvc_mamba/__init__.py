"""PDVC-Mamba: dense video captioning and paragraph captioning, PDVC vs the suite's Mamba encoders.

Importing the package registers the data set, collate function, model, caption heads and metric;
`TASK` describes the task to the generic tools.
"""
import torch

from common.engine import TaskSpec
from . import datasets, metrics, models  # noqa: F401  (registration)
from .convert import convert_checkpoint
from .toy import make_toy_data
from .visualize import plot_predictions


def flops_inputs(cfg):
    """One video at the config's frame count (PDVC resizes every video to it)."""
    return (torch.randn(1, cfg.train_dataloader.dataset.frame_embedding_num, cfg.model.feature_dim),)


TASK = TaskSpec(
    name="pdvc_mamba",
    toy_data_root="data/toy/pdvc_mamba",
    make_toy_data=make_toy_data,
    compare_configs=tuple(f"pdvc_mamba/configs/toy/{name}.py" for name in ("pdvc", "vim", "dbm", "frequent_sentence")),
    table_metrics=("METEOR", "Bleu_4", "CIDEr", "soda_c", "Recall", "Precision", "para_METEOR"),
    flops_inputs=flops_inputs,
    plot_predictions=plot_predictions,
    demo_epochs=5,
    convert_checkpoint=convert_checkpoint,
)
