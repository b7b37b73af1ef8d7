"""Test-only hook: record which samples each rank trained on."""
import json
import os

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from common.engine import HOOKS


@HOOKS.register_module(force=True)
class RecordSamplesHook(Hook):
    """Writes `<work_dir>/samples_rank<R>.json`: {epoch: [dataset indices trained on]}."""

    def before_train(self, runner):
        self.seen = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        indices = data_batch["data_samples"]["index"].tolist()
        self.seen.setdefault(str(runner.epoch), []).extend(indices)

    def after_train(self, runner):
        with open(os.path.join(runner.work_dir, f"samples_rank{get_rank()}.json"), "w") as f:
            json.dump(self.seen, f)

