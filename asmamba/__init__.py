"""ASMamba: ASFormer for temporal action segmentation, and its encoder-Mamba variants.

Importing the package registers the dataset, collate function, model, metric and LR-schedule hook
into the engine's registries; `TASK` describes the task to the generic tools.
"""
import torch

from common.engine import TaskSpec

from . import datasets, hooks, metrics, models  # noqa: F401  (registers the components)
from .convert import convert_checkpoint
from .toy import make_toy_data
from .visualize import plot_predictions

FLOPS_FRAMES = 200  # a typical toy video

TASK = TaskSpec(
    name="asmamba",
    toy_data_root="data/toy/asmamba",
    make_toy_data=make_toy_data,
    compare_configs=[
        "asmamba/configs/toy/asformer_toy.py",
        "asmamba/configs/toy/asmamba_vim_toy.py",
        "asmamba/configs/toy/asmamba_dbm_toy.py",
        "asmamba/configs/toy/asmamba_mamba_toy.py",
    ],
    table_metrics=["acc", "edit", "f1@10", "f1@25", "f1@50"],
    convert_checkpoint=convert_checkpoint,
    plot_predictions=plot_predictions,
    demo_epochs=6,
    flops_inputs=lambda cfg: (torch.zeros(1, cfg.model.input_dim, FLOPS_FRAMES),),
)
