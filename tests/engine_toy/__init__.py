"""A tiny sequence-labelling task that exercises the engine (tests only): registered into the
root registries like a real task package, with a TaskSpec for the generic tools."""
import torch

from common.engine import TaskSpec

from . import hooks, model  # noqa: F401  (registers the model, metric and test hook)
from .data import FEATURES, LENGTH, make_toy_data

TASK = TaskSpec(
    name="engine_toy",
    toy_data_root="data/toy/engine_toy",
    make_toy_data=make_toy_data,
    compare_configs=["tests/engine_toy/configs/toy_narrow.py",
                     "tests/engine_toy/configs/toy_wide.py"],
    table_metrics=["acc"],
    flops_inputs=lambda cfg: (torch.zeros(1, LENGTH, FEATURES),),
)
