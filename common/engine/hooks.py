"""Hooks the shared runtime installs (common/configs/default_runtime.py, `default_hooks`)."""
import glob
import inspect
import json
import math
import os
import os.path as osp
import sys
import time

import torch

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook, LoggerHook
from mmengine.registry import HOOKS

from .checkpoint import atomic_write_text, non_finite_tensors, restore_message_hub, rng_state, set_rng_state, to_plain

VAL_METRICS_FILE, TEST_METRICS_FILE, PROGRESS_FILE = "val_metrics.json", "test_metrics.json", "progress.json"


def read_json(path: str, remedy: str = "") -> dict:
    """The JSON object in `path`, or {} when there is no such file; a damaged file is a ValueError naming
    it, followed by `remedy` (what to do about it)."""
    if not osp.isfile(path):
        return {}
    try:
        with open(path) as f:
            record = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is damaged, not the JSON record this engine writes ({err})"
                         + (f"; {remedy}" if remedy else "")) from None
    if not isinstance(record, dict):
        raise ValueError(f"{path} holds a JSON {type(record).__name__}, not the record (an object) this engine "
                         "writes" + (f"; {remedy}" if remedy else ""))
    return record


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """CheckpointHook whose files on disk stay consistent wherever the run is killed.

    mmengine's hook deletes the checkpoint that falls out of `max_keep_ckpts` before it writes the
    new one, and rewrites `last_checkpoint` in place: a kill in between leaves `last_checkpoint`
    empty or pointing at a deleted file, and `--resume` fails. Here the order is: write the new
    checkpoint (atomically, `EngineRunner.save_checkpoint`), atomically point `last_checkpoint` at
    it, and only then delete the expired ones. Two refusals keep what was good: options it would only
    pass to the save at the first checkpoint are checked when it is built, and weights holding NaN
    or Inf are never saved (so retention never deletes the last finite checkpoint for them).

    The best checkpoint by a validation metric (`save_best="<metric key>"`, `rule="greater"|"less"`,
    mmengine's options) is kept just as safely: `best_<key>_epoch_N.pth` (no optimizer or schedule
    state) is written before the previous best is deleted, and the regular checkpoint that records it
    (its message hub's `best_ckpt`, `best_score`) is rewritten in between. ResultsDirHook writes val_metrics.json after
    this hook, so a run killed before that validates the epoch again on resume and gets the same best;
    a best file the resumed state does not name (left by a killed run) is removed then.
    """

    def __init__(self, *args, **kwargs):
        # CheckpointHook forwards unknown options to Runner.save_checkpoint, which takes none of its own.
        known = set(inspect.signature(CheckpointHook.__init__).parameters) - {"self", "kwargs"}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"checkpoint hook: unknown option(s) {unknown}; it takes {sorted(known)}")
        super().__init__(*args, **kwargs)

    def _refuse_non_finite(self, runner, filename):
        model = getattr(runner.model, "module", runner.model)
        bad = non_finite_tensors(model.state_dict())
        if bad:
            raise FloatingPointError(
                f"not saving {filename}: the weights hold NaN or Inf ({', '.join(bad[:5])}); "
                f"the last checkpoint with finite weights is {self.last_ckpt or 'none yet'}")

    def _save_checkpoint_with_step(self, runner, step, meta):
        self._refuse_non_finite(runner, self.filename_tmpl.format(step))
        expired = []
        # Best-checkpoint saving may call this twice for one step; keep the step once.
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        # the iterations trained so far, as Runner.save_checkpoint records them (EngineRunner.final_checkpoint)
        runner.final_checkpoint = (self.last_ckpt, runner.iter if self.by_epoch else runner.iter + 1)
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, "last_checkpoint"), self.last_ckpt)
        for old_step in expired:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)

    # ---- the best checkpoint by a metric (save_best) -------------------------------------------------
    def _best_info_keys(self, key):
        """The message hub's names for `key`'s best score and path (mmengine's)."""
        if len(self.key_indicators) == 1:
            return "best_score", "best_ckpt"
        return f"best_score_{key}", f"best_ckpt_{key}"

    def before_train(self, runner) -> None:
        super().before_train(runner)
        # A resumed run re-validates an epoch the killed run did not finish; re-saving the checkpoint that
        # records a new best needs the path mmengine only keeps in memory.
        self.last_ckpt = runner.message_hub.get_info("last_ckpt", self.last_ckpt)
        if not (self.save_best and runner._resume and is_main_process()) or "auto" in self.key_indicators:
            return
        for key in self.key_indicators:
            named = runner.message_hub.get_info(self._best_info_keys(key)[1])
            pattern = osp.join(glob.escape(self.out_dir), glob.escape(f"best_{key}_".replace("/", "_")) + "*")
            for path in glob.glob(pattern):
                if named is None or osp.abspath(path) != osp.abspath(named):
                    runner.logger.warning(f"removing {path}: a best checkpoint the resumed state does not name")
                    os.remove(path)

    def after_val_epoch(self, runner, metrics):
        if self.save_best and metrics and "auto" not in self.key_indicators:
            missing = [k for k in self.key_indicators if k not in metrics]
            if missing:
                raise KeyError(f"checkpoint hook: save_best {missing} is not among the validation metrics "
                               f"{sorted(metrics)}")
        super().after_val_epoch(runner, metrics)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self.save_best:
            return
        if "auto" in self.key_indicators:
            self._init_rule(self.rules, [next(iter(metrics))])
        step = runner.epoch if self.by_epoch else runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        improved, replaced = False, []
        for key, rule in zip(self.key_indicators, self.rules):
            score_key, path_key = self._best_info_keys(key)
            best = runner.message_hub.get_info(score_key, self.init_value_map[rule])
            if metrics[key] is None or not self.is_better_than[key](metrics[key], best):
                continue
            filename = f"best_{key}_{self.filename_tmpl.format(step)}".replace("/", "_")
            path = self.file_backend.join_path(self.out_dir, filename)
            self._refuse_non_finite(runner, filename)
            previous = runner.message_hub.get_info(path_key)
            runner.message_hub.update_info(score_key, metrics[key])
            runner.message_hub.update_info(path_key, path)
            if len(self.key_indicators) == 1:
                self.best_ckpt_path = path
            else:
                self.best_ckpt_path_dict[key] = path
            runner.save_checkpoint(self.out_dir, filename, self.file_client_args, save_optimizer=False,
                                   save_param_scheduler=False, meta=meta, by_epoch=False,
                                   backend_args=self.backend_args)
            runner.logger.info(f"the best checkpoint by {key} ({metrics[key]:.4f}) is now {path}")
            improved = True
            if previous and osp.abspath(previous) != osp.abspath(path):
                replaced.append(previous)
        # The regular checkpoint of this step is rewritten to record the new best before the old one goes.
        if improved and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, step, meta)
        if is_main_process():
            for path in replaced:
                if self.file_backend.isfile(path):
                    self.file_backend.remove(path)


@HOOKS.register_module()
class TrainStateHook(Hook):
    """Makes a checkpoint a complete and plain record of training, so a resumed run continues
    exactly where the killed one stopped and `torch.load` reads it with weights_only=True.

    - Before a save it stores the global RNG states (torch, CUDA, numpy, Python: dropout and
      augmentation draw from them) and converts the checkpoint to plain types. Priority LOWEST:
      it runs after every other hook has added its part (e.g. EMAHook's `ema_state_dict`).
    - On resume it rebuilds the message hub's HistoryBuffers and restores the RNG states.
    - Around validation it saves and restores the RNG states: an uninterrupted run validates
      after the epoch it checkpointed, a resumed one does not, so validation must leave the
      training random stream untouched for the two to match. A checkpoint saved during validation
      (the best one, and the epoch's checkpoint rewritten to record it) stores the training states.
    On DDP the states of rank 0 are stored; ranks share a seed and draw alike.
    """

    priority = "LOWEST"
    _train_rng = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["rng_state"] = rng_state() if self._train_rng is None else self._train_rng
        plain = to_plain(checkpoint)
        checkpoint.clear()
        checkpoint.update(plain)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if "message_hub" in checkpoint:
            restore_message_hub(checkpoint["message_hub"])
        if not runner._resume:
            return
        if "rng_state" in checkpoint:
            set_rng_state(checkpoint["rng_state"])
        else:
            runner.logger.warning("the checkpoint has no rng_state: the resumed run will not "
                                  "reproduce an uninterrupted one")

    def before_val(self, runner) -> None:
        self._train_rng = rng_state()

    def after_val(self, runner) -> None:
        set_rng_state(self._train_rng)
        self._train_rng = None


# The fields naming a sample's video, looked up in this order in a batch's data_samples (FiniteLossHook).
# A new task names its videos `video`; the others are the names the landed tasks' formats carry.
SAMPLE_ID_KEYS = ("video", "videos", "video_id", "vid", "filename")


def batch_videos(data_batch) -> list | None:
    """The videos of a collated batch: its `data_samples` as a dict of per-batch lists (or tensors) or
    as a list of per-sample dicts or mmengine data elements, named by the first of SAMPLE_ID_KEYS they
    hold; None when they hold none."""
    samples = data_batch.get("data_samples") if isinstance(data_batch, dict) else None
    if isinstance(samples, dict):
        for key in SAMPLE_ID_KEYS:
            if key in samples:
                ids = samples[key]
                ids = ids.tolist() if torch.is_tensor(ids) else ids
                return [str(i) for i in ids] if isinstance(ids, (list, tuple)) else [str(ids)]
        return None
    if not isinstance(samples, (list, tuple)) or not samples:
        return None
    for key in SAMPLE_ID_KEYS:
        ids = [s.get(key) if isinstance(s, dict) else getattr(s, key, None) for s in samples]
        if all(i is not None for i in ids):
            return [str(i) for i in ids]
    return None


def _non_finite_inputs(data_batch) -> bool:
    """Whether any floating-point tensor among the batch's inputs holds NaN or Inf."""
    inputs = data_batch.get("inputs") if isinstance(data_batch, dict) else None
    stack = [inputs]
    while stack:
        x = stack.pop()
        if torch.is_tensor(x):
            if x.is_floating_point() and not torch.isfinite(x).all():
                return True
        elif isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
    return False


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stops training at the first non-finite loss, naming the iteration and the batch's videos (see
    `batch_videos`) and saying whether the batch's inputs were finite, instead of training on NaN weights
    to a validation score. Runs first after each iteration, before anything is logged or saved."""

    priority = "HIGHEST"

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        values = {name: float(v.detach()) if torch.is_tensor(v) else float(v) for name, v in (outputs or {}).items()}
        bad = [name for name, value in values.items() if not math.isfinite(value)]
        if not bad:
            return
        terms = f" (non-finite terms: {', '.join(bad[1:])})" if len(bad) > 1 else ""
        videos = batch_videos(data_batch)
        where = (f"on a batch of {len(videos)} video(s): {', '.join(videos[:20])}{', ...' if len(videos) > 20 else ''}"
                 if videos is not None else
                 f"on a batch whose data samples name no video (no field {' / '.join(SAMPLE_ID_KEYS)})")
        inputs = ("its inputs hold NaN or Inf: bad input data, not divergence" if _non_finite_inputs(data_batch)
                  else "its inputs are finite: look at these videos first (a very short or empty video, a "
                       "degenerate annotation); a loss that grew over many iterations is divergence")
        last = runner.message_hub.get_info("last_ckpt") or "none yet"
        raise FloatingPointError(
            f"training stopped: {bad[0]} = {values[bad[0]]}{terms} "
            f"at epoch {runner.epoch + 1}, iteration {batch_idx + 1} of the epoch (global iteration {runner.iter + 1}) "
            f"{where}; {inputs}. Nothing was saved after it. The last checkpoint, with finite weights: {last}")


@HOOKS.register_module()
class EpochTimeHook(Hook):
    """Logs the wall time of each training epoch as the scalar `epoch_seconds` (step = epoch).

    It runs before the checkpoint hook, so the time excludes saving and validation.
    """

    priority = "NORMAL"

    def before_train_epoch(self, runner) -> None:
        self._start = time.perf_counter()

    def after_train_epoch(self, runner) -> None:
        seconds = time.perf_counter() - self._start
        runner.visualizer.add_scalars({"epoch_seconds": seconds}, step=runner.epoch + 1)


@HOOKS.register_module()
class ProgressLoggerHook(LoggerHook):
    """LoggerHook that shows progress (with ETA) every `interval` iterations and at least
    `min_updates` times per train / val / test epoch, so short loops show progress too."""

    def __init__(self, interval: int = 50, min_updates: int = 5, **kwargs):
        super().__init__(interval=interval, **kwargs)
        self.max_interval = interval
        self.min_updates = min_updates

    def _fit_interval(self, dataloader) -> None:
        self.interval = max(1, min(self.max_interval, len(dataloader) // self.min_updates))

    def before_train_epoch(self, runner) -> None:
        self._fit_interval(runner.train_dataloader)

    def before_val_epoch(self, runner) -> None:
        self._fit_interval(runner.val_dataloader)

    def before_test_epoch(self, runner) -> None:
        self._fit_interval(runner.test_dataloader)


@HOOKS.register_module()
class ResultsDirHook(Hook):
    """Points every metric with an `out_dir` attribute at the run's work dir before validation and
    testing, where it writes its prediction file(s) in the task's upstream format, and writes the
    metrics each loop returns to `<work_dir>/{val,test}_metrics.json` (atomically).

    Priority LOWEST: val_metrics.json is the record that an epoch's validation is complete (a resumed run
    validates an epoch it lacks, ResumableEpochBasedTrainLoop), so it is written after every other hook,
    the checkpoint hook's best checkpoint included, has acted on that validation."""

    priority = "LOWEST"

    def _point(self, evaluator, runner) -> None:
        for metric in evaluator.metrics:
            if hasattr(metric, "out_dir"):
                metric.out_dir = runner.work_dir

    def before_val(self, runner) -> None:
        self._point(runner.val_loop.evaluator, runner)

    def before_test(self, runner) -> None:
        self._point(runner.test_loop.evaluator, runner)
        stale = osp.join(runner.work_dir, TEST_METRICS_FILE)
        if is_main_process() and osp.exists(stale):  # a test that fails leaves no earlier test's scores
            os.remove(stale)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._write(runner, VAL_METRICS_FILE, dict(metrics or {}, epoch=runner.epoch))

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._write(runner, TEST_METRICS_FILE, dict(metrics or {}, checkpoint=runner._load_from))

    @staticmethod
    def _write(runner, filename, record) -> None:
        if is_main_process():
            atomic_write_text(osp.join(runner.work_dir, filename), json.dumps(record, indent=1, default=float))


def format_seconds(seconds: float) -> str:
    """4321 -> '1:12:01', 75 -> '1:15'."""
    minutes, secs = divmod(round(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@HOOKS.register_module()
class ProgressHook(Hook):
    """Live progress of training: `<work_dir>/progress.json` (what tools/compare.py shows), and on the
    console one line per epoch with the mean loss and the ETA of the run: updated in place on a
    terminal, printed once at the end of each epoch in a log or CI. The ETA counts validation and
    checkpoint time, from the wall time per iteration so far."""

    priority = "LOW"

    def __init__(self, min_seconds: float = 0.5, stream=None):
        self.min_seconds, self.stream = min_seconds, stream

    def before_train(self, runner) -> None:
        self._start, self._start_iter, self._last_write = time.perf_counter(), runner.iter, 0.0
        self._loss_sum, self._loss_n = 0.0, 0
        self._out = self.stream or sys.stdout
        self._tty = self._out.isatty()

    def before_train_epoch(self, runner) -> None:
        self._loss_sum, self._loss_n = 0.0, 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if outputs and "loss" in outputs:
            self._loss_sum += float(torch.as_tensor(outputs["loss"]).detach())
            self._loss_n += 1
        last_iter = batch_idx + 1 == len(runner.train_dataloader)
        if time.perf_counter() - self._last_write >= self.min_seconds or last_iter:
            self._report(runner, "train", batch_idx + 1, final=last_iter)

    def before_val_epoch(self, runner) -> None:
        if hasattr(self, "_start"):  # validating inside a training run
            self._report(runner, "val", len(runner.train_dataloader))

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics and is_main_process():
            scores = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
            print(f"epoch {runner.epoch} validation: {scores}", file=self.stream or sys.stdout, flush=True)

    def after_train(self, runner) -> None:
        self._report(runner, "done", len(runner.train_dataloader))

    def _report(self, runner, phase, iter_in_epoch, final=False) -> None:
        now = time.perf_counter()
        self._last_write = now
        loop = runner.train_loop
        done = runner.iter + (phase == "train") - self._start_iter
        elapsed = now - self._start
        eta = elapsed / done * (loop.max_iters - runner.iter - (phase == "train")) if done > 0 else None
        epoch = runner.epoch + (phase == "train")
        state = dict(phase=phase, epoch=epoch, max_epochs=loop.max_epochs, iter=iter_in_epoch,
                     iters_per_epoch=len(runner.train_dataloader), loss=self._loss_sum / max(self._loss_n, 1),
                     elapsed=elapsed, eta=eta)
        if is_main_process():
            tmp = osp.join(runner.work_dir, "." + PROGRESS_FILE + ".partial")
            with open(tmp, "w") as f:  # rewritten twice a second: atomic, not fsynced
                json.dump(state, f)
            os.replace(tmp, osp.join(runner.work_dir, PROGRESS_FILE))
            if phase == "train" and (self._tty or final):
                line = (f"epoch {epoch}/{loop.max_epochs} [{iter_in_epoch}/{state['iters_per_epoch']}] "
                        f"loss {state['loss']:.4f} | ETA {format_seconds(eta) if eta is not None else '?'}")
                end = "\n" if final else ""
                print(("\r\033[K" if self._tty else "") + line, end=end, file=self._out, flush=True)
