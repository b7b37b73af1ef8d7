"""Run-time glue: upstream ASFormer's LR schedule (ReduceLROnPlateau stepped every epoch on the summed
training loss), and the check that the data fits the model.

mmengine's ReduceOnPlateauLR is stepped on validation metrics; `TrainLossPlateauLR` opts out of that
and `TrainLossPlateauHook` feeds it the training loss instead. Being a param scheduler, its state
(best loss, bad epochs) is saved in checkpoints and restored on resume.
"""
import os

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


@HOOKS.register_module()
class DataFitsModelHook(Hook):
    """Before training, validation and testing: the data set's classes (mapping.txt) and feature size
    must be the model's, or the run stops with both named (a GTEA model on 50Salads would otherwise
    train on, or score, the wrong class ids)."""

    def _check(self, runner, dataloader):
        dataset, model = dataloader.dataset, getattr(runner.model, "module", runner.model)
        mapping = os.path.join(dataset.data_root, "mapping.txt")
        if len(dataset.classes) != model.num_classes:
            raise ValueError(f"{mapping} lists {len(dataset.classes)} classes; the model of "
                             f"{runner.cfg.filename} has num_classes={model.num_classes}")
        if dataset.feature_dim != model.input_dim:
            raise ValueError(f"{dataset.data_root}/features hold {dataset.feature_dim}-d features; the model "
                             f"of {runner.cfg.filename} has input_dim={model.input_dim}")

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader)

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_loop.dataloader)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop.dataloader)
