"""StreamLatencyHook: the per-tick cost of running the model online, reported with the validation metrics.
AnnotationsMatchHook: the model's classes and each data set's come from one annotation folder."""
import statistics
import time

import torch
from mmengine.hooks import Hook

from common.engine import HOOKS


@HOOKS.register_module()
class StreamLatencyHook(Hook):
    """After each validation, streams the first validation video through the model one 4 fps tick at a time
    (batch 1) and adds `stream_ms`, the median milliseconds of stream_step + stream_readout over its last
    `steps` ticks, to the metrics (so it lands in the log, val_metrics.json and tools/compare.py's table).
    Priority ABOVE_NORMAL: before ResultsDirHook and the logger read the metrics."""

    priority = "ABOVE_NORMAL"

    def __init__(self, steps=100):
        self.steps = steps

    @torch.no_grad()
    def after_val_epoch(self, runner, metrics=None) -> None:
        model = getattr(runner.model, "module", runner.model)
        features = runner.val_dataloader.dataset[0]["features"]
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        state, times = model.stream_init(1, device), []
        for tick in range(len(features)):
            start = time.perf_counter()
            state = model.stream_step(features[tick:tick + 1].to(device), state)
            if tick >= len(features) - self.steps:  # earlier readouts change no state: skipped
                model.stream_readout(state)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
        model.train(was_training)
        ms = 1000 * statistics.median(times)
        if metrics is not None:
            metrics["stream_ms"] = ms
        runner.message_hub.update_scalar("val/stream_ms", ms)


@HOOKS.register_module()
class AnnotationsMatchHook(Hook):
    """Before training, validation and testing: the model's `annotations` (its heads' classes, the
    equalisation loss's rare actions) must agree with the data set's, else an error naming both folders
    (instead of a tensor-size mismatch in the loss, or scores of classes the data does not have)."""

    priority = "VERY_HIGH"

    @staticmethod
    def _check(runner, name):
        model = getattr(runner.model, "module", runner.model)
        model.check_annotations(getattr(runner, name).dataset, name)

    def before_train(self, runner) -> None:
        self._check(runner, "train_dataloader")

    def before_val(self, runner) -> None:
        self._check(runner, "val_dataloader")

    def before_test(self, runner) -> None:
        self._check(runner, "test_dataloader")
