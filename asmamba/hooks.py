"""Upstream ASFormer's LR schedule: ReduceLROnPlateau stepped every epoch on the summed training loss.

mmengine's ReduceOnPlateauLR is stepped on validation metrics; `TrainLossPlateauLR` opts out of that
and `TrainLossPlateauHook` feeds it the training loss instead. Being a param scheduler, its state
(best loss, bad epochs) is saved in checkpoints and restored on resume.
"""
from mmengine.hooks import Hook
from mmengine.optim import ReduceOnPlateauLR

from common.engine import HOOKS, PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class TrainLossPlateauLR(ReduceOnPlateauLR):
    """ReduceOnPlateauLR on the `loss` that TrainLossPlateauHook reports, not on validation."""

    need_val_args = False

    def __init__(self, optimizer, **kwargs):
        super().__init__(optimizer, monitor="loss", rule="less", **kwargs)


@HOOKS.register_module()
class TrainLossPlateauHook(Hook):
    """Sums the training loss over each epoch and steps every TrainLossPlateauLR with it."""

    priority = "LOW"

    def before_train_epoch(self, runner) -> None:
        self.epoch_loss = 0.0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.epoch_loss += outputs["loss"].item()

    def after_train_epoch(self, runner) -> None:
        schedulers = runner.param_schedulers
        if isinstance(schedulers, dict):
            schedulers = [s for group in schedulers.values() for s in group]
        for scheduler in schedulers or []:
            if isinstance(scheduler, TrainLossPlateauLR):
                scheduler.step(dict(loss=self.epoch_loss))
