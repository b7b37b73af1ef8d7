"""The Runner the tools build (tools/train.py, tools/test.py) and how it is built."""
import datetime
import glob
import logging
import os
import os.path as osp
import re

import torch
from mmengine.config import Config
from mmengine.dist import master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.model import is_model_wrapper
from mmengine.registry import LOOPS, RUNNERS
from mmengine.runner import EpochBasedTrainLoop, Runner

from .checkpoint import (CheckpointError, commit_file, model_state_dict, read_checkpoint, state_dict_mismatches,
                         temporary_name)
from .config import config_differences
from .hooks import VAL_METRICS_FILE, read_json

_CHECKPOINT_NAME = re.compile(r"(?:epoch|iter)_(\d+)\.pth")
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
      falls back past unreadable checkpoints to the newest intact one, and says so;
    - an epoch whose validation the previous run did not finish is validated on resume.
    """

    def __init__(self, *args, **kwargs):
        self._read_cache = None  # (path, checkpoint): read once for the checks, once for loading
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
            loop = dict(loop)
            if loop.get("type") in ("EpochBasedTrainLoop", EpochBasedTrainLoop) or loop.pop("by_epoch", None):
                loop["type"] = "ResumableEpochBasedTrainLoop"
        return super().build_train_loop(loop)

    def load_or_resume(self) -> None:
        if self._has_loaded or not (self._resume and self._load_from is None):
            return super().load_or_resume()
        latest = self._latest_intact_checkpoint()
        if latest is None:
            self.logger.warning(f"--resume: no checkpoint in {self.work_dir}; training from the start")
            return None
        self.resume(latest)
        self._has_loaded = True
        return None

    def resume(self, filename, *args, **kwargs):
        checkpoint = self._read(filename)
        self._check_same_model(checkpoint, filename)
        return super().resume(filename, *args, **kwargs)

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
        if self._read_cache is None or self._read_cache[0] != filename:
            self._read_cache = (filename, read_checkpoint(filename, map_location))
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
        best_* checkpoint: it holds no optimizer state)."""
        pointer = osp.join(self.work_dir, "last_checkpoint")
        numbered = [(int(m.group(1)), p) for p in glob.glob(osp.join(self.work_dir, "*.pth"))
                    if (m := _CHECKPOINT_NAME.fullmatch(osp.basename(p)))]
        candidates = [p for _, p in sorted(numbered, reverse=True)]
        if osp.isfile(pointer):
            with open(pointer) as f:
                named = f.read().strip()
            candidates = [named] + [c for c in candidates if osp.abspath(c) != osp.abspath(named)]
        failures = []
        for path in candidates:
            try:
                self._read(path)
            except CheckpointError as err:
                failures.append(str(err))
                continue
            if failures:
                self.logger.warning("skipped while resuming:\n  " + "\n  ".join(failures)
                                    + f"\nresuming from the newest intact checkpoint, {path}")
            return path
        if failures:
            raise CheckpointError(f"--resume: no intact checkpoint in {self.work_dir}:\n  " + "\n  ".join(failures))
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
        if self._validates_after(self._epoch) and \
                read_json(osp.join(self.runner.work_dir, VAL_METRICS_FILE)).get("epoch") != self._epoch:
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


def checkpoint_to_test(cfg: Config, work_dir: str) -> tuple[str, str]:
    """The checkpoint a finished run is tested with, and why: the best one by the checkpoint hook's
    (first) `save_best` metric when the config keeps one, as the last checkpoint's state records it;
    else the one `last_checkpoint` names."""
    with open(osp.join(work_dir, "last_checkpoint")) as f:
        last = f.read().strip()
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


def test_final_checkpoint(cfg: Config, work_dir: str) -> dict:
    """Test `checkpoint_to_test` with `cfg` as it was trained (overrides and all), saying which, in a fresh
    Runner: a Runner that has trained would rebuild its EMA model when testing."""
    cfg = cfg.copy()
    cfg.work_dir, cfg.resume, cfg.experiment_name = work_dir, False, "test"
    cfg.load_from, which = checkpoint_to_test(cfg, work_dir)
    print(f"testing {which}: {cfg.load_from}", flush=True)
    cfg.load_partial = False
    return build_runner(cfg).test()


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
