"""Run-time glue between the data set, the model and the metric."""
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from common.engine import HOOKS


@HOOKS.register_module()
class SilenceEmptyClassesHook(Hook):
    """Classes without any annotation (EPIC-Kitchens) start with a 1e-6 prior instead of 0.01.

    Runs before EMAHook (priority ABOVE_NORMAL) so the EMA copy starts from the same weights; only
    when training, since a loaded checkpoint carries the biases already.
    """

    priority = "ABOVE_NORMAL"

    def before_run(self, runner):
        if not isinstance(runner._train_loop, BaseLoop):  # not training: test() leaves it unbuilt
            return
        empty = runner.train_dataloader.dataset.metainfo["empty_classes"]
        model = getattr(runner.model, "module", runner.model)
        model.cls_head.silence_classes(empty)
        runner.logger.info(f"{len(empty)} classes have no annotations; their prior is set to 1e-6")
