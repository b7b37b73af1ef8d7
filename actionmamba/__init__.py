"""ActionMamba: ActionFormer for temporal action localisation, with DBM / ViM / Mamba backbones.

Importing the package registers its data set, models, metric, hooks and optimiser grouping.
"""
import torch

from common.engine import TaskSpec
from . import datasets, hooks, metrics, models, optim  # noqa: F401  (registration)
from .convert import convert_checkpoint
from .toy import make_toy_data
from .visualize import plot_predictions


def flops_inputs(cfg):
    """One full-length video at the config's training length."""
    return (torch.randn(1, cfg.model.backbone.in_channels, cfg.model.max_seq_len),)


TASK = TaskSpec(
    name="actionmamba",
    toy_data_root="data/toy/actionmamba",
    make_toy_data=make_toy_data,
    compare_configs=tuple(f"actionmamba/configs/toy/{name}.py" for name in ("actionformer", "dbm", "vim", "mamba")),
    table_metrics=("mAP@0.30", "mAP@0.40", "mAP@0.50", "mAP@0.60", "mAP@0.70", "mAP_avg"),
    convert_checkpoint=convert_checkpoint,
    plot_predictions=plot_predictions,
    demo_epochs=4,
    flops_inputs=flops_inputs,
)
