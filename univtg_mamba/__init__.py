"""UniVTG-Mamba: video temporal grounding (moment retrieval + highlight detection) with UniVTG and the
suite's ViM / DBM interaction networks.

Importing the package registers its data set, collate function, model, encoders, metric and optimiser
grouping; `TASK` describes the task to the generic tools.
"""
import torch

from common.engine import TaskSpec
from . import datasets, metrics, models, optim  # noqa: F401  (registration)
from .convert import convert_checkpoint
from .plots import plot_predictions
from .toy import make_toy_data

FLOPS_TEXT_TOKENS, FLOPS_CLIPS = 20, 75  # a QVHighlights query and video (150 s, 2 s clips)


def flops_inputs(cfg):
    """One query and one full video at the config's feature sizes."""
    model = cfg.model
    return (dict(text=torch.randn(1, FLOPS_TEXT_TOKENS, model.text_dim),
                 text_mask=torch.ones(1, FLOPS_TEXT_TOKENS, dtype=torch.bool),
                 video=torch.randn(1, FLOPS_CLIPS, model.video_dim),
                 video_mask=torch.ones(1, FLOPS_CLIPS, dtype=torch.bool)),)


TASK = TaskSpec(
    name="univtg_mamba",
    toy_data_root="data/toy/univtg_mamba",
    make_toy_data=make_toy_data,
    compare_configs=tuple(f"univtg_mamba/configs/toy/{name}.py" for name in ("univtg", "vim", "dbm", "query_blind")),
    table_metrics=("MR-full-R1@0.5-key", "MR-full-R1@0.7-key", "MR-full-mAP-key", "HL-min-VeryGood-mAP-key",
                   "HL-min-VeryGood-Hit1-key"),
    flops_inputs=flops_inputs,
    plot_predictions=plot_predictions,
    demo_epochs=10,
    convert_checkpoint=convert_checkpoint,
)
