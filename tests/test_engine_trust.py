"""No silent wrong numbers from the engine: strict checkpoint loading, resume checks and fallbacks,
a stop at the first non-finite loss, option typos caught at start-up, validation finished on resume,
no partial files after a failed save, override keys that must exist. On the toy task, in process."""
import errno
import itertools
import json
import os
import runpy
import sys
from pathlib import Path

import pytest
import torch
from mmengine.fileio import LocalBackend

import engine_toy
from common.engine import CheckpointError, build_runner, load_config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = Path(engine_toy.__file__).parent / "configs"
NARROW, WIDE = str(CONFIGS / "toy_narrow.py"), str(CONFIGS / "toy_wide.py")
_run_ids = itertools.count()


def runner_for(work_dir, config=NARROW, **cfg_options):
    cfg = load_config(config, cfg_options)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f"trust_{os.getpid()}_{next(_run_ids)}"
    cfg.log_level = "WARNING"
    return build_runner(cfg)


def tool(name, *args, monkeypatch):
    monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
    runpy.run_path(str(REPO / "tools" / name), run_name="__main__")


def test_test_tool_loads_strictly_and_names_config_checkpoint_and_mismatches(toy_dir, monkeypatch):
    runner_for(toy_dir / "wide", WIDE, **{"train_cfg.max_epochs": 1}).train()
    with pytest.raises(SystemExit) as exc:
        tool("test.py", NARROW, toy_dir / "wide" / "epoch_1.pth", monkeypatch=monkeypatch)
    message = str(exc.value)
    assert "epoch_1.pth does not fit the model of" in message and "toy_narrow.py" in message
    assert "shape of conv.weight: (64, 8, 3) in the checkpoint, (16, 8, 3) in the model" in message


def test_partial_load_is_explicit_and_lists_what_it_skipped(toy_dir, monkeypatch, capsys):
    runner_for(toy_dir / "wide", WIDE, **{"train_cfg.max_epochs": 1}).train()
    # A changed head: same trunk width, other number of classes.
    options = {"train_cfg.max_epochs": 1, "model.num_classes": 5, "model.hidden": 64}
    with pytest.raises(CheckpointError, match="shape of head.weight: \\(4, 64\\) in the checkpoint, \\(5, 64\\)"):
        runner_for(toy_dir / "strict", NARROW, load_from=str(toy_dir / "wide" / "epoch_1.pth"), **options).train()
    runner = runner_for(toy_dir / "partial", NARROW, load_from=str(toy_dir / "wide" / "epoch_1.pth"),
                        load_partial=True, **options)
    runner.train()
    log = next((toy_dir / "partial").glob("*/*.log")).read_text()
    assert "partial load of" in log and "2 entries skipped" in log and "shape of head.bias" in log


def test_resuming_a_checkpoint_of_another_model_config_is_an_error(toy_dir):
    runner_for(toy_dir / "run", NARROW, **{"train_cfg.max_epochs": 1}).train()
    with pytest.raises(CheckpointError, match="trained with another model config .*model.hidden"):
        runner_for(toy_dir / "run", WIDE, resume=True).train()


def test_non_finite_loss_stops_training_and_keeps_the_last_finite_checkpoint(toy_dir, monkeypatch):
    work = toy_dir / "run"
    runner_for(work, **{"train_cfg.max_epochs": 2, "default_hooks.checkpoint.max_keep_ckpts": 1}).train()
    forward, calls = engine_toy.model.ToyTagger.forward, itertools.count(1)

    def nan_at_third_step(self, inputs, data_samples=None, mode="tensor"):
        out = forward(self, inputs, data_samples, mode)
        if mode == "loss" and next(calls) == 3:
            out = dict(loss=out["loss"] * float("nan"))
        return out
    monkeypatch.setattr(engine_toy.model.ToyTagger, "forward", nan_at_third_step)
    with pytest.raises(FloatingPointError, match=r"loss = nan at epoch 3, iteration 3 of the epoch \(global "
                                                 r"iteration 19\) on a batch of 8 video\(s\): (train_\d{3}, ){7}"
                                                 r"train_\d{3}; its inputs are finite"):
        runner_for(work, resume=True, **{"train_cfg.max_epochs": 4,
                                         "default_hooks.checkpoint.max_keep_ckpts": 1}).train()
    assert sorted(p.name for p in work.glob("*.pth")) == ["epoch_2.pth"]
    assert all(torch.isfinite(v).all() for v in torch.load(work / "epoch_2.pth")["state_dict"].values())


def test_a_non_finite_loss_names_the_batch_its_term_and_whether_the_input_was_bad(toy_dir):
    import numpy as np
    data = dict(np.load("data/toy/engine_toy/train.npz"))
    data["features"][5, 3, 0] = np.nan  # one bad frame in sample 5's feature file
    np.savez("data/toy/engine_toy/train.npz", **data)
    with pytest.raises(FloatingPointError) as exc:
        runner_for(toy_dir / "run", **{"train_cfg.max_epochs": 1, "train_dataloader.sampler.shuffle": False}).train()
    message = str(exc.value)
    assert "loss = nan at epoch 1, iteration 1 of the epoch (global iteration 1) on a batch of 8 video(s): " \
           "train_000, train_001, train_002, train_003, train_004, train_005, train_006, train_007; its inputs " \
           "hold NaN or Inf: bad input data, not divergence" in message


def test_batch_videos_reads_every_tasks_data_samples():
    from mmengine.structures import BaseDataElement

    from common.engine.hooks import batch_videos
    assert batch_videos(dict(data_samples=dict(videos=["a", "b"], mask=None))) == ["a", "b"]          # ASMamba
    assert batch_videos(dict(data_samples=[dict(video_id="a"), dict(video_id="b")])) == ["a", "b"]   # ActionMamba
    assert batch_videos(dict(data_samples=[dict(qid=1, vid="a")])) == ["a"]                           # UniVTG
    assert batch_videos(dict(data_samples=[BaseDataElement(metainfo=dict(filename="x.mp4"))])) == ["x.mp4"]
    assert batch_videos(dict(data_samples=dict(video=torch.tensor([3, 4])))) == ["3", "4"]
    assert batch_videos(dict(data_samples=dict(index=torch.tensor([3])))) is None
    assert batch_videos(dict(data_samples=[BaseDataElement()])) is None and batch_videos(None) is None


def test_non_finite_weights_are_never_saved(toy_dir, monkeypatch):
    from common.engine import AtomicCheckpointHook
    save = AtomicCheckpointHook.after_train_epoch

    def corrupt_then_save(hook, runner):  # weights that overflowed although the losses were finite
        runner.model.head.bias.data.fill_(float("inf"))
        save(hook, runner)
    monkeypatch.setattr(AtomicCheckpointHook, "after_train_epoch", corrupt_then_save)
    with pytest.raises(FloatingPointError, match="not saving epoch_1.pth: the weights hold NaN or Inf \\(head.bias\\)"):
        runner_for(toy_dir / "run", **{"train_cfg.max_epochs": 1}).train()
    assert not list((toy_dir / "run").glob("*.pth"))


def test_a_typo_in_a_hook_option_fails_at_start_up(toy_dir):
    cfg = load_config(NARROW)
    cfg.work_dir, cfg.log_level = str(toy_dir / "run"), "WARNING"
    cfg.default_hooks.checkpoint.max_keep_ckpt = 1  # in a config file: not an override
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['max_keep_ckpt'\]"):
        build_runner(cfg).train()
    assert not list((toy_dir / "run").glob("*.pth"))


def test_override_keys_must_exist(toy_dir):
    with pytest.raises(ValueError, match="train_cfg of .* has no key 'max_epoch'; did you mean 'max_epochs'"):
        load_config(NARROW, {"train_cfg.max_epoch": 2})
    with pytest.raises(ValueError, match="model of .* has no key 'hiden'; did you mean 'hidden'"):
        load_config(NARROW, {"model.hiden": 2})
    with pytest.raises(ValueError, match="param_scheduler of .* is a list of 1 entries; '3' is not one"):
        load_config(NARROW, {"param_scheduler.3.T_max": 2})
    # Arguments of what a dict builds are fine although the config does not spell them out.
    cfg = load_config(NARROW, {"train_cfg.val_begin": 2, "default_hooks.checkpoint.save_last": False,
                               "experiment_name": "x", "param_scheduler.0.T_max": 3})
    assert cfg.train_cfg.val_begin == 2 and cfg.param_scheduler[0].T_max == 3
    # ... also for classes a downstream library (mmaction) registers in its own child registry.
    timemamba = str(REPO / "videomamba_st/configs/toy/timemamba.py")
    assert load_config(timemamba, {"model.backbone.ln_pre": True}).model.backbone.ln_pre is True
    with pytest.raises(ValueError, match="model.backbone of .* has no key 'ln_pr'; did you mean 'ln_pre'"):
        load_config(timemamba, {"model.backbone.ln_pr": True})


def test_a_run_killed_in_its_final_validation_validates_when_resumed(toy_dir, monkeypatch):
    from mmengine.runner import ValLoop
    work, run_val = toy_dir / "run", ValLoop.run

    def die_in_final_validation(loop):
        if loop.runner.epoch == 2:
            raise KeyboardInterrupt("killed while validating")
        return run_val(loop)
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(ValLoop, "run", die_in_final_validation)
        runner_for(work, **{"train_cfg.max_epochs": 2}).train()
    assert json.loads((work / "val_metrics.json").read_text())["epoch"] == 1

    runner_for(work, resume=True, **{"train_cfg.max_epochs": 2}).train()
    final = json.loads((work / "val_metrics.json").read_text())
    assert final["epoch"] == 2 and 0 < final["acc"] <= 1


def test_resume_falls_back_past_a_corrupt_latest_checkpoint(toy_dir):
    work = toy_dir / "run"
    runner_for(work, **{"train_cfg.max_epochs": 2}).train()
    latest = work / "epoch_2.pth"
    latest.write_bytes(latest.read_bytes()[:1000])  # truncated, e.g. a disk that filled up

    runner = runner_for(work, resume=True, **{"train_cfg.max_epochs": 3})
    runner.train()
    assert runner.epoch == 3
    log = sorted(work.glob("*/*.log"))[-1].read_text()
    assert f"checkpoint {latest} is unreadable: empty, truncated or corrupt" in log
    assert f"resuming from the newest intact checkpoint, {work / 'epoch_1.pth'}" in log


def test_an_unreadable_checkpoint_is_named_without_a_weights_only_hint(toy_dir, monkeypatch):
    bad = toy_dir / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as exc:
        tool("test.py", NARROW, bad, monkeypatch=monkeypatch)
    assert f"checkpoint {bad} is unreadable" in str(exc.value) and "weights_only" not in str(exc.value)
    foreign = toy_dir / "foreign.pth"
    torch.save({"state_dict": {}, "args": argparse_namespace()}, foreign)
    with pytest.raises(SystemExit) as exc:
        tool("test.py", NARROW, foreign, monkeypatch=monkeypatch)
    assert "convert it first with `python tools/convert_checkpoint.py" in str(exc.value)
    assert "weights_only" not in str(exc.value)


def argparse_namespace():
    import argparse
    return argparse.Namespace(lr=0.1)


class _Options:
    """An upstream release's own options object."""


class _CallsOsSystem:
    def __reduce__(self):
        return os.system, ("true",)  # unpickled only by an unsafe loader; weights_only refuses the module


def test_an_intact_checkpoint_with_a_refused_object_is_named_as_such_not_as_corrupt(toy_dir, monkeypatch):
    from common.engine.checkpoint import refused_global
    foreign = toy_dir / "foreign.pth"
    torch.save({"state_dict": {}, "args": argparse_namespace()}, foreign)
    with pytest.raises(CheckpointError, match=f"checkpoint {foreign} holds a Python object the safe loader refuses: "
                                              "argparse.Namespace; .*convert it first with `python tools/"):
        from common.engine import read_checkpoint
        read_checkpoint(str(foreign))
    blocked = toy_dir / "blocked.pth"
    torch.save({"state_dict": {}, "x": _CallsOsSystem()}, blocked)  # torch 2.13: "... whose module posix is blocked"
    with pytest.raises(SystemExit) as exc:
        tool("test.py", NARROW, blocked, monkeypatch=monkeypatch)
    assert f"checkpoint {blocked} holds a call into {os.system.__module__}.system" in str(exc.value)
    assert "do not unpickle this file" in str(exc.value) and "corrupt" not in str(exc.value)
    # every wording of the refusal torch has used names what it refused; other unpickler errors do not
    assert refused_global("WeightsUnpickler error: Unsupported global: GLOBAL numpy.dtype was not an allowed "
                          "global by default. Please use ...") == "numpy.dtype"
    assert refused_global("Trying to load unsupported GLOBAL posix.system whose module posix is blocked.") \
        == "posix.system"
    assert refused_global("Can only build Tensor, Parameter, OrderedDict or types allowlisted via `add_safe_globals`"
                          ", but got <class 'a.B'>") == "<class 'a.B'>"
    assert refused_global("Trying to call reduce for unrecognized function <built-in function eval>") \
        == "<built-in function eval>"
    assert refused_global("WeightsUnpickler error: Unsupported operand 110") is None
    from tools.convert_checkpoint import convert  # reads a Namespace of options, not what it holds
    torch.save({"state_dict": {}, "args": argparse_namespace(), "opt": _Options()}, toy_dir / "release.pth")
    with pytest.raises(CheckpointError, match=r"refuses: \S*_Options; .*if you trust the file, convert it with "
                                              "--trust-pickle"):
        convert(NARROW, str(toy_dir / "release.pth"), str(toy_dir / "out.pth"))


def test_a_failed_save_leaves_no_partial_file(toy_dir, monkeypatch):
    put = LocalBackend.put

    def disk_full(self, obj, filepath):
        put(self, obj[: len(obj) // 3], filepath)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(LocalBackend, "put", disk_full)
    with pytest.raises(OSError, match="No space left"):
        runner_for(toy_dir / "run", **{"train_cfg.max_epochs": 1}).train()
    assert not [p.name for p in (toy_dir / "run").iterdir() if p.suffix == ".pth" or ".partial" in p.name]


def test_a_schedule_that_trains_nothing_is_an_error_at_start_up(toy_dir, monkeypatch):
    for key, value in (("train_cfg.max_epochs", 0), ("train_cfg.max_epochs", -2), ("train_cfg.val_interval", 0)):
        with pytest.raises(SystemExit, match=f"error: {key} of .*toy_narrow.py is {value}: it must be a positive "
                                             "integer"):
            tool("train.py", NARROW, "--work-dir", toy_dir / "run", "--test", "--cfg-options", f"{key}={value}",
                 monkeypatch=monkeypatch)
        assert not list((toy_dir / "run").glob("*.pth"))


def test_testing_after_training_refuses_a_checkpoint_this_run_did_not_write(toy_dir, monkeypatch, capsys):
    work = toy_dir / "run"
    runner_for(work, **{"train_cfg.max_epochs": 1}).train()
    tool("test.py", NARROW, work / "epoch_1.pth", "--work-dir", work, monkeypatch=monkeypatch)
    assert (work / "test_metrics.json").exists() and (work / "last_checkpoint").exists()
    # A second run in the same work dir that saves no checkpoint of its own.
    with pytest.raises(SystemExit) as exc:
        tool("train.py", NARROW, "--work-dir", work, "--test", "--cfg-options", "train_cfg.max_epochs=1",
             "default_hooks.checkpoint.interval=5", "default_hooks.checkpoint.save_last=False",
             monkeypatch=monkeypatch)
    assert "cannot test the final model of" in str(exc.value) and "it saved no checkpoint" in str(exc.value)
    # It took the work dir over: the earlier run's pointer and scores are gone, its checkpoint stays.
    assert not (work / "last_checkpoint").exists() and not (work / "test_metrics.json").exists()
    assert (work / "epoch_1.pth").exists()
    run = json.loads((work / "run.json").read_text())
    assert run["config"] == NARROW and len(run["run_id"]) == 32
    assert "held an earlier run: removed its last_checkpoint, val_metrics.json, test_metrics.json, progress.json" \
        in sorted(work.glob("*/*.log"))[-1].read_text()


def test_resume_never_takes_an_earlier_runs_checkpoint_or_validation(toy_dir, monkeypatch):
    from mmengine.runner import ValLoop
    work = toy_dir / "run"
    runner_for(work, **{"train_cfg.max_epochs": 2, "train_cfg.val_interval": 2}).train()  # an earlier run
    assert json.loads((work / "val_metrics.json").read_text())["epoch"] == 2

    def die_in_validation(loop):
        raise KeyboardInterrupt("killed while validating")
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):  # a new run, killed at the same point
        patch.setattr(ValLoop, "run", die_in_validation)
        runner_for(work, WIDE, **{"train_cfg.max_epochs": 2, "train_cfg.val_interval": 2}).train()
    assert not (work / "val_metrics.json").exists()  # the earlier run's scores are not this run's
    runner_for(work, WIDE, resume=True, **{"train_cfg.max_epochs": 2, "train_cfg.val_interval": 2}).train()
    assert json.loads((work / "val_metrics.json").read_text())["epoch"] == 2  # validated when resumed

    # The new run's latest checkpoint unreadable: resume does not fall back to the earlier run's.
    earlier = toy_dir / "earlier"
    runner_for(earlier, **{"train_cfg.max_epochs": 3}).train()
    runner_for(earlier, **{"train_cfg.max_epochs": 1}).train()  # a new run; epoch_2/3.pth are the earlier run's
    latest = earlier / "epoch_1.pth"
    latest.write_bytes(latest.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as exc:
        runner_for(earlier, resume=True, **{"train_cfg.max_epochs": 3}).train()
    assert f"checkpoint {latest} is unreadable" in str(exc.value)
    assert f"checkpoint {earlier / 'epoch_3.pth'} belongs to an earlier run in this work dir" in str(exc.value)

    # A new run killed before its first checkpoint: resuming it starts it again, not from the earlier run.
    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    again = toy_dir / "again"
    runner_for(again, **{"train_cfg.max_epochs": 2}).train()
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(engine_toy.model.ToyTagger, "forward", killed)
        runner_for(again, **{"train_cfg.max_epochs": 1}).train()
    runner = runner_for(again, resume=True, **{"train_cfg.max_epochs": 1})
    runner.train()
    assert runner.epoch == 1 and runner.final_checkpoint == (str(again / "epoch_1.pth"), 8)


def test_a_damaged_val_metrics_file_on_resume_is_named_with_what_to_do(toy_dir):
    work = toy_dir / "run"
    runner_for(work, **{"train_cfg.max_epochs": 1}).train()
    (work / "val_metrics.json").write_text('{"acc": 0.5, "ep')
    with pytest.raises(ValueError, match=f"{work / 'val_metrics.json'} is damaged, not the JSON record this engine "
                                         "writes .*; it records the last validated epoch: delete it, and the "
                                         "resumed run validates epoch 1 again"):
        runner_for(work, resume=True, **{"train_cfg.max_epochs": 2}).train()
    (work / "val_metrics.json").unlink()
    runner_for(work, resume=True, **{"train_cfg.max_epochs": 2}).train()
    assert json.loads((work / "val_metrics.json").read_text())["epoch"] == 2


def test_a_checkpoint_holding_nan_weights_is_refused_wherever_it_loads(toy_dir, monkeypatch):
    from tools.convert_checkpoint import convert
    work = toy_dir / "run"
    runner_for(work, **{"train_cfg.max_epochs": 2}).train()
    bad = work / "epoch_2.pth"
    checkpoint = torch.load(bad)
    checkpoint["state_dict"]["conv.bias"][3] = float("nan")
    checkpoint["state_dict"]["head.weight"][0, 0] = float("inf")
    torch.save(checkpoint, bad)
    refusal = f"checkpoint {bad} holds NaN or Inf weights (2 entries: conv.bias, head.weight)"
    with pytest.raises(SystemExit, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        tool("test.py", NARROW, bad, "--work-dir", toy_dir / "test", monkeypatch=monkeypatch)
    with pytest.raises(CheckpointError, match=r"holds NaN or Inf weights \(2 entries"):
        runner_for(toy_dir / "tuned", load_from=str(bad), **{"train_cfg.max_epochs": 1}).train()
    with pytest.raises(CheckpointError, match=r"holds NaN or Inf weights \(2 entries"):
        runner_for(work, resume=True, load_from=str(bad), **{"train_cfg.max_epochs": 3}).train()
    with pytest.raises(CheckpointError, match=r"holds NaN or Inf weights \(2 entries: conv.bias, head.weight\)"):
        convert(NARROW, str(bad), str(toy_dir / "converted.pth"))
    assert not (toy_dir / "converted.pth").exists()
    # --resume without a path falls back past it to the newest finite checkpoint
    runner = runner_for(work, resume=True, **{"train_cfg.max_epochs": 3})
    runner.train()
    log = sorted(work.glob("*/*.log"))[-1].read_text()
    assert refusal in log and f"resuming from the newest intact checkpoint, {work / 'epoch_1.pth'}" in log
