"""The Runner the tools build (tools/train.py, tools/test.py) and how it is built."""
import datetime
import glob
import json
import logging
import os
import os.path as osp
import re
import uuid

import torch
from mmengine.config import Config
from mmengine.dist import broadcast_object_list, is_main_process, master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.model import is_model_wrapper
from mmengine.registry import LOOPS, RUNNERS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop, Runner

from .checkpoint import (CheckpointError, atomic_write_text, check_finite_weights, commit_file, model_state_dict,
                         read_checkpoint, state_dict_mismatches, temporary_name)
from .config import config_differences
from .hooks import PROGRESS_FILE, TEST_METRICS_FILE, VAL_METRICS_FILE, read_json

_CHECKPOINT_NAME = re.compile(r"(?:epoch|iter)_(\d+)\.pth")
# A work dir holds one training run at a time, named in RUN_FILE. A run that takes a work dir over from
# another removes that run's records (its checkpoints stay, but are never resumed as the new run's).
RUN_FILE = "run.json"
RUN_RECORDS = ("last_checkpoint", VAL_METRICS_FILE, TEST_METRICS_FILE, PROGRESS_FILE)
# mmengine's own deprecation notices on every run: kept in the log file, off a quiet console.
_MMENGINE_NOISE = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias', "The prefix is not set")


@RUNNERS.register_module()
class EngineRunner(Runner):
    """mmengine's Runner, made safe to kill, resume and load into:

    - checkpoint files appear whole or not at all (temporary name, fsync, rename; a failed write
      removes its partial file);
    - checkpoints load strictly: keys and shapes must fit the config's model, else an error names
      the config, the checkpoint and the first mismatches. `load_partial=True` (tools/train.py
      --partial) loads what fits and lists what it skipped, for fine-tuning with a changed head;
    - resuming a checkpoint trained with another model config is an error; `--resume` without a path
      falls back past unreadable checkpoints to the newest intact one of the work dir's run, and says so;
    - an epoch whose validation the previous run did not finish is validated on resume;
    - a schedule that trains nothing (max_epochs / max_iters < 1) is an error when training starts;
    - a training run names itself in <work_dir>/run.json and removes the records (last_checkpoint,
      val/test_metrics.json, progress.json) of the run it takes the work dir over from, and
      `final_checkpoint` is the (path, iteration) of the checkpoint holding its weights (its latest
      save, or the checkpoint it resumed), so nothing an earlier run left is taken for this run's.
    """

    def __init__(self, *args, **kwargs):
        self._read_cache = None  # (path, checkpoint): read once for the checks, once for loading
        self.final_checkpoint = None
        super().__init__(*args, **kwargs)

    def build_logger(self, *args, **kwargs):
        """mmengine's logger; `console_log_level` (e.g. WARNING, what tools/train.py sets) keeps the
        environment and config dumps and the log lines in the log file, off the console."""
        logger = super().build_logger(*args, **kwargs)
        level = self.cfg.get("console_log_level")
        if level:
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler:
                    handler.setLevel(level)
                    handler.addFilter(lambda record: not any(m in record.getMessage() for m in _MMENGINE_NOISE))
        return logger

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs):
        if not isinstance(get_file_backend(out_dir), LocalBackend):
            raise ValueError(f"checkpoints are written atomically to a local directory; "
                             f"{out_dir!r} is not one")
        partial = osp.join(out_dir, temporary_name(filename))
        try:
            super().save_checkpoint(out_dir, temporary_name(filename), *args, **kwargs)
            commit_file(partial, osp.join(out_dir, filename))
        except BaseException:
            if osp.exists(partial):
                os.remove(partial)
            raise

    def build_train_loop(self, loop):
        if isinstance(loop, dict):
            check_schedule(loop, self.cfg.filename)
            loop = dict(loop)
            if loop.get("type") in ("EpochBasedTrainLoop", EpochBasedTrainLoop) or loop.pop("by_epoch", None):
                loop["type"] = "ResumableEpochBasedTrainLoop"
        return super().build_train_loop(loop)

    def load_or_resume(self) -> None:
        if self._has_loaded:
            return None
        if self._resume and self._load_from is None:
            latest = self._latest_intact_checkpoint()
            if latest is None:
                self.logger.warning(f"--resume: no checkpoint of this work dir's run in {self.work_dir}; "
                                    "training from the start")
            else:
                self.resume(latest)
                self._has_loaded = True
        else:
            super().load_or_resume()
        if isinstance(self._train_loop, BaseLoop):  # training, not testing
            self._claim_work_dir()
        return None

    def resume(self, filename, *args, **kwargs):
        checkpoint = self._read(filename)
        self._check_same_model(checkpoint, filename)
        result = super().resume(filename, *args, **kwargs)
        self.final_checkpoint = (filename, self.iter)
        return result

    def _claim_work_dir(self) -> None:
        """Name this training run in <work_dir>/run.json (a new id, or the resumed run's), removing the
        records of another run that held the work dir before."""
        run_id = self.message_hub.get_info("run_id")
        resumed_unnamed = run_id is None and self._resume and self._has_loaded  # a checkpoint older than run ids
        if run_id is None:
            ids = [uuid.uuid4().hex]
            broadcast_object_list(ids)
            run_id = ids[0]
            self.message_hub.update_info("run_id", run_id)
        if not is_main_process():
            return
        path = osp.join(self.work_dir, RUN_FILE)
        try:
            holder = _run_of_work_dir(self.work_dir)
        except ValueError:  # damaged: whichever run it named, this one takes the work dir over
            holder = ""
        if holder == run_id:
            return
        if not (holder is None and resumed_unnamed):
            stale = [name for name in RUN_RECORDS if osp.exists(osp.join(self.work_dir, name))]
            for name in stale:
                os.remove(osp.join(self.work_dir, name))
            if stale:
                self.logger.warning(f"{self.work_dir} held an earlier run: removed its {', '.join(stale)}; its "
                                    "checkpoints stay, and are never resumed or tested as this run's")
        atomic_write_text(path, json.dumps(dict(run_id=run_id, started=self.timestamp, config=self.cfg.filename)))

    def load_checkpoint(self, filename, map_location="cpu", strict=True, revise_keys=None):
        checkpoint = self._read(filename, map_location)
        self._read_cache = None
        model = self.model.module if is_model_wrapper(self.model) else self.model
        state = model_state_dict(checkpoint)
        problems = state_dict_mismatches(state, model)
        partial = bool(self.cfg.get("load_partial", False)) and not self._resume
        config = self.cfg.filename or "the config"
        if problems and not partial:
            raise CheckpointError(
                f"checkpoint {filename} does not fit the model of {config} ({len(problems)} mismatches):\n  "
                + "\n  ".join(problems[:10]) + ("\n  ..." if len(problems) > 10 else "")
                + "\nAn upstream release? Convert it with tools/convert_checkpoint.py. Fine-tuning with a "
                  "changed head? Load what fits with tools/train.py --partial (load_partial=True).")
        if problems:
            expected = model.state_dict()
            state = {k: v for k, v in state.items() if k in expected and v.shape == expected[k].shape}
            if not state:
                raise CheckpointError(f"checkpoint {filename}: no entry fits the model of {config}")
            self.logger.warning(f"partial load of {filename}: {len(problems)} entries skipped, left at their "
                                "initialisation:\n  " + "\n  ".join(problems))
            checkpoint = dict(checkpoint, state_dict=state)
        # Hooks may rearrange the checkpoint (EMAHook swaps the EMA and trained weights on resume).
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        model.load_state_dict(model_state_dict(checkpoint), strict=not problems)
        self._has_loaded = True
        self.logger.info(f"loaded checkpoint {filename}")
        return checkpoint

    def _read(self, filename, map_location="cpu"):
        """The checkpoint `filename`, read and checked (finite weights) once for the checks and the load."""
        if self._read_cache is None or self._read_cache[0] != filename:
            checkpoint = read_checkpoint(filename, map_location)
            check_finite_weights(checkpoint, filename)
            self._read_cache = (filename, checkpoint)
        return self._read_cache[1]

    def _check_same_model(self, checkpoint, filename):
        text = checkpoint.get("meta", {}).get("cfg")
        if not text:
            self.logger.warning(f"{filename} records no config: cannot check that it was trained with this model")
            return
        saved = Config.fromstring(text, file_format=".py").to_dict().get("model")
        differences = config_differences(saved, self.cfg.to_dict().get("model"), "model")
        if differences:
            raise CheckpointError(
                f"cannot resume from {filename}: it was trained with another model config than "
                f"{self.cfg.filename or 'this one'}; these entries differ: {', '.join(differences[:10])}. "
                "Resume with the config it was trained with, or start a new run from its weights "
                "(tools/train.py --load-from, --partial for a changed head).")

    def _latest_intact_checkpoint(self):
        """The checkpoint `last_checkpoint` names, else the newest epoch_N / iter_N that reads whole (never a
        best_* checkpoint: it holds no optimizer state); only checkpoints of the run that holds the work dir
        (run.json), when it names one."""
        run_id = _run_of_work_dir(self.work_dir)
        pointer = osp.join(self.work_dir, "last_checkpoint")
        numbered = [(int(m.group(1)), p) for p in glob.glob(osp.join(self.work_dir, "*.pth"))
                    if (m := _CHECKPOINT_NAME.fullmatch(osp.basename(p)))]
        candidates = [p for _, p in sorted(numbered, reverse=True)]
        if osp.isfile(pointer):
            with open(pointer) as f:
                named = f.read().strip()
            candidates = [named] + [c for c in candidates if osp.abspath(c) != osp.abspath(named)]
        unreadable, foreign = [], []
        for path in candidates:
            try:
                checkpoint = self._read(path)
            except CheckpointError as err:
                unreadable.append(str(err))
                continue
            written_by = checkpoint.get("message_hub", {}).get("runtime_info", {}).get("run_id")
            if run_id is not None and written_by != run_id:
                foreign.append(f"checkpoint {path} belongs to an earlier run in this work dir, not to the run "
                               f"{osp.join(self.work_dir, RUN_FILE)} names")
                continue
            if unreadable or foreign:
                self.logger.warning("skipped while resuming:\n  " + "\n  ".join(unreadable + foreign)
                                    + f"\nresuming from the newest intact checkpoint, {path}")
            return path
        if unreadable:
            raise CheckpointError(f"--resume: no intact checkpoint in {self.work_dir}:\n  "
                                  + "\n  ".join(unreadable + foreign))
        if foreign:  # the run saved none yet: it starts again, never from another run's weights
            self.logger.warning("skipped while resuming:\n  " + "\n  ".join(foreign))
        return None


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """EpochBasedTrainLoop that finishes a validation the previous run was killed in.

    A checkpoint is written at the end of its epoch, before that epoch's validation: a run killed
    during the validation (the final one included) resumes from a checkpoint whose validation never
    happened. If <work_dir>/val_metrics.json (ResultsDirHook) does not hold that epoch, it runs first.
    """

    def run(self):
        self.runner.call_hook("before_train")
        record = osp.join(self.runner.work_dir, VAL_METRICS_FILE)
        if self._validates_after(self._epoch) and read_json(record, remedy=(
                "it records the last validated epoch: delete it, and the resumed run validates epoch "
                f"{self._epoch} again before it goes on")).get("epoch") != self._epoch:
            self.runner.logger.info(f"epoch {self._epoch} was not validated before the previous run stopped: "
                                    "validating it now")
            self.runner.val_loop.run()
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._decide_current_val_interval()
            if self._validates_after(self._epoch):
                self.runner.val_loop.run()
        self.runner.call_hook("after_train")
        return self.runner.model

    def _validates_after(self, epoch: int) -> bool:
        """mmengine's rule: from val_begin on, every val_interval epochs and after the last one."""
        return self.runner.val_loop is not None and epoch >= max(self.val_begin, 1) and (
            epoch % self.val_interval == 0 or epoch == self._max_epochs)


def default_work_dir(config_path: str) -> str:
    """`work_dirs/<config name>`, relative to the working directory like the configs' data paths."""
    return osp.join("work_dirs", osp.splitext(osp.basename(config_path))[0])


def build_runner(cfg: Config) -> EngineRunner:
    """Build the Runner for `cfg`; with a launcher on a machine without CUDA, set up gloo first."""
    if cfg.get("launcher", "none") != "none" and not torch.cuda.is_available():
        _init_cpu_distributed(cfg)
    return EngineRunner.from_cfg(cfg)


def check_schedule(loop: dict, source: str | None = None) -> None:
    """A train_cfg must train: its max_epochs / max_iters and val_interval positive integers."""
    for key in ("max_epochs", "max_iters", "val_interval"):
        value = loop.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train_cfg.{key} of {source or 'the config'} is {value!r}: it must be a positive "
                             "integer (a run that trains nothing would test or report another run's model)")


def checkpoint_to_test(cfg: Config, runner: EngineRunner) -> tuple[str, str]:
    """The checkpoint a finished run is tested with, and why: the best one by the checkpoint hook's (first)
    `save_best` metric when the config keeps one, as this run's final checkpoint records it; else that final
    checkpoint, the one holding the weights `runner` ended its training with (`final_checkpoint`). A run whose
    final weights were not saved is an error, never a test of whatever `last_checkpoint` names."""
    saved = runner.final_checkpoint
    if saved is None or saved[1] != runner.iter:
        written = (f"the last checkpoint it saved, {saved[0]}, holds iteration {saved[1]}" if saved
                   else "it saved no checkpoint")
        raise CheckpointError(
            f"cannot test the final model of {cfg.filename}: training ended at iteration {runner.iter} and {written}; "
            "nothing else in the work dir is taken for this run's model. Keep the checkpoint hook's save_last=True, "
            "or test a checkpoint with tools/test.py")
    last = saved[0]
    save_best = cfg.get("default_hooks", {}).get("checkpoint", {}).get("save_best")
    if not save_best:
        return last, "the last checkpoint"
    key = save_best if isinstance(save_best, str) else save_best[0]
    info = read_checkpoint(last).get("message_hub", {}).get("runtime_info", {})
    suffix = "" if isinstance(save_best, str) or len(save_best) == 1 else f"_{key}"
    best = info.get("best_ckpt" + suffix)
    if best is None:
        return last, f"the last checkpoint (no validation has recorded a best {key} yet)"
    return best, f"the best checkpoint by {key} ({info.get('best_score' + suffix):.4f})"


def test_final_checkpoint(cfg: Config, runner: EngineRunner) -> dict:
    """Test `checkpoint_to_test` with `cfg` as it was trained (overrides and all), saying which, in a fresh
    Runner: a Runner that has trained would rebuild its EMA model when testing."""
    cfg = cfg.copy()
    cfg.work_dir, cfg.resume, cfg.experiment_name = runner.work_dir, False, "test"
    cfg.load_from, which = checkpoint_to_test(cfg, runner)
    print(f"testing {which}: {cfg.load_from}", flush=True)
    cfg.load_partial = False
    return build_runner(cfg).test()


def _run_of_work_dir(work_dir: str):
    """The run id <work_dir>/run.json names, or None."""
    return read_json(osp.join(work_dir, RUN_FILE), remedy=(
        "it names the run the work dir holds: delete it to resume from the newest intact checkpoint, "
        "whichever run wrote it")).get("run_id")


def _init_cpu_distributed(cfg: Config) -> None:
    # mmengine's init_dist pins a CUDA device before it starts the process group, which a CPU-only
    # torch cannot do, and nccl needs CUDA: start a gloo group here (the Runner uses a group that
    # is already up) and wrap the model in DDP without device_ids, the form DDP takes for CPU.
    if cfg.launcher != "pytorch":
        raise ValueError(f"launcher {cfg.launcher!r} needs CUDA; on CPU use torchrun "
                         "(tools/dist_train.sh, --launcher pytorch)")
    if not torch.distributed.is_initialized():
        timeout = cfg.get("env_cfg", {}).get("dist_cfg", {}).get("timeout", 1800)
        torch.distributed.init_process_group(
            backend="gloo", timeout=datetime.timedelta(seconds=timeout))
    wrapper = dict(cfg.get("model_wrapper_cfg") or dict(
        type="MMDistributedDataParallel", broadcast_buffers=False,
        find_unused_parameters=cfg.get("find_unused_parameters", False)))
    wrapper["device_ids"] = None
    cfg.model_wrapper_cfg = wrapper
