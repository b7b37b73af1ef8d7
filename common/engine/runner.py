"""Config loading and the Runner the tools build (tools/train.py, tools/test.py)."""
import datetime
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .checkpoint import commit_file, temporary_name


@RUNNERS.register_module()
class EngineRunner(Runner):
    """mmengine Runner whose checkpoint files appear whole or not at all: each is written under a
    temporary name in the same directory, fsynced and renamed, so a run killed mid-save never
    leaves a truncated `epoch_N.pth`."""

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs):
        if not isinstance(get_file_backend(out_dir), LocalBackend):
            raise ValueError(f"checkpoints are written atomically to a local directory; "
                             f"{out_dir!r} is not one")
        super().save_checkpoint(out_dir, temporary_name(filename), *args, **kwargs)
        commit_file(osp.join(out_dir, temporary_name(filename)), osp.join(out_dir, filename))


def parse_overrides(pairs) -> dict:
    """KEY=VALUE strings -> the dict `--cfg-options` gives (mmengine DictAction's value syntax)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"override {pair!r} is not KEY=VALUE")
        options[key] = DictAction._parse_iterable(value)
    return options


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    """Read an mmengine python config (importing its `custom_imports`), then apply overrides."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"config file {path!r} not found (expected an mmengine .py config)")
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def default_work_dir(config_path: str) -> str:
    """`work_dirs/<config name>`, relative to the working directory like the configs' data paths."""
    return osp.join("work_dirs", osp.splitext(osp.basename(config_path))[0])


def build_runner(cfg: Config) -> EngineRunner:
    """Build the Runner for `cfg`; with a launcher on a machine without CUDA, set up gloo first."""
    if cfg.get("launcher", "none") != "none" and not torch.cuda.is_available():
        _init_cpu_distributed(cfg)
    return EngineRunner.from_cfg(cfg)


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


def test_final_checkpoint(cfg: Config, work_dir: str) -> dict:
    """Test the checkpoint `last_checkpoint` names with `cfg` as it was trained (overrides and all), in a
    fresh Runner: a Runner that has trained would rebuild its EMA model when testing."""
    cfg = cfg.copy()
    cfg.work_dir, cfg.resume, cfg.experiment_name = work_dir, False, "test"
    with open(osp.join(work_dir, "last_checkpoint")) as f:
        cfg.load_from = f.read().strip()
    return build_runner(cfg).test()
