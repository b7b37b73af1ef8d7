"""The engine end to end, in process, on the toy task (tests/engine_toy): it learns, its
checkpoints load with torch.load's weights_only default, a run killed mid-save leaves a consistent
work dir, and resuming reproduces an uninterrupted run exactly."""
import itertools
import os
from pathlib import Path

import pytest
import torch
from mmengine.fileio import LocalBackend

import engine_toy
from common.engine import build_runner, load_config

CONFIG = str(Path(engine_toy.__file__).parent / "configs" / "toy_narrow.py")
_run_ids = itertools.count()


def train(work_dir, **cfg_options):
    cfg = load_config(CONFIG, cfg_options)
    cfg.work_dir = str(work_dir)
    # mmengine keys its logger / message hub / visualizer by experiment name; keep runs apart.
    cfg.experiment_name = f"toy_{os.getpid()}_{next(_run_ids)}"
    cfg.log_level = "WARNING"
    runner = build_runner(cfg)
    runner.train()
    return runner


def test_toy_task_learns_and_its_checkpoint_loads_weights_only(toy_dir):
    runner = train(toy_dir / "run", **{"train_cfg.max_epochs": 3, "param_scheduler.0.T_max": 3})
    acc = runner.message_hub.get_scalar("val/acc").current()
    assert acc > 0.6  # chance is 1/4

    ckpt = torch.load(toy_dir / "run" / "epoch_3.pth")  # default weights_only=True
    assert ckpt["meta"]["epoch"] == 3
    assert set(ckpt) >= {"state_dict", "optimizer", "param_schedulers", "message_hub", "rng_state"}
    assert (toy_dir / "run" / "last_checkpoint").read_text() == str(toy_dir / "run" / "epoch_3.pth")
    (log_dir,) = [p for p in (toy_dir / "run").iterdir() if p.is_dir()]
    scalars = (log_dir / "vis_data" / "scalars.json").read_text()
    assert '"loss"' in scalars and '"acc"' in scalars and '"epoch_seconds"' in scalars
    assert list((log_dir / "vis_data").glob("events.out.tfevents.*"))


def assert_same_tensors(a, b, where="checkpoint"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f"{where}[{i}]")


def test_killed_mid_save_then_resumed_equals_uninterrupted(toy_dir, monkeypatch):
    ema = [dict(type="EMAHook", momentum=0.2)]
    train(toy_dir / "full", custom_hooks=ema)

    # Kill the second run while it writes epoch 3: half the bytes reach the disk, then it dies.
    write = LocalBackend.put

    def put_and_die(self, obj, filepath):
        if str(filepath).endswith("epoch_3.pth.partial"):
            write(self, obj[: len(obj) // 2], filepath)
            raise KeyboardInterrupt("killed while saving")
        write(self, obj, filepath)
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(LocalBackend, "put", put_and_die)
        train(toy_dir / "killed", custom_hooks=ema,
              **{"default_hooks.checkpoint.max_keep_ckpts": 1})

    killed = toy_dir / "killed"
    assert not (killed / "epoch_3.pth").exists()  # no truncated checkpoint under the real name
    assert (killed / "epoch_2.pth").exists()  # not deleted before its successor was complete
    assert (killed / "last_checkpoint").read_text() == str(killed / "epoch_2.pth")

    resumed = train(killed, custom_hooks=ema, resume=True)
    assert resumed.epoch == 4
    full, again = torch.load(toy_dir / "full" / "epoch_4.pth"), torch.load(killed / "epoch_4.pth")
    # state_dict holds the EMA weights (EMAHook swaps them in), ema_state_dict the trained ones.
    for key in ("state_dict", "ema_state_dict", "optimizer", "param_schedulers", "rng_state"):
        assert_same_tensors(full[key], again[key], key)
