"""videomamba_st: ViViM and the TimeMamba adapter on raw video, as mmaction2 models.

Importing the package makes mmaction2 importable here (videomamba_st.mmaction_import) and registers the backbones,
the metric and the EPIC-Kitchens data set into mmaction2's registries; `TASK` describes the task to the tools.
"""
import common  # noqa: F401  (before torch loads: the OpenMP wait policy, see common/__init__.py)

from . import mmaction_import  # noqa: F401,E402  (before any registry lookup: makes mmaction2 importable)
from . import datasets, metrics, models  # noqa: F401,E402  (registration)
import torch  # noqa: E402

from common.engine import TaskSpec  # noqa: E402
from .convert import convert_checkpoint  # noqa: E402
from .plot import plot_predictions  # noqa: E402
from .toy import make_toy_data  # noqa: E402


DEMO_EPOCHS = 3  # the demo budget (<= 3 min on 2 idle cores, estimated): the schedule scaled from 10 epochs


def flops_inputs(cfg):
    """One view of one clip at the config's size: (batch 1, views 1, C, T, H, W) for Recognizer3D."""
    backbone = cfg.model.backbone
    return (torch.zeros(1, 1, 3, backbone.num_frames, backbone.img_size, backbone.img_size),)


TASK = TaskSpec(
    name="videomamba_st",
    toy_data_root="data/toy/videomamba_st",
    make_toy_data=make_toy_data,
    compare_configs=tuple(f"videomamba_st/configs/toy/{name}.py"
                          for name in ("vit_joint", "vivim", "timesformer", "timemamba", "single_frame")),
    table_metrics=("acc/top1", "acc/top5"),
    flops_inputs=flops_inputs,
    plot_predictions=plot_predictions,
    demo_epochs=DEMO_EPOCHS,
    convert_checkpoint=convert_checkpoint,
)
