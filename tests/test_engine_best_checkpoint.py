"""Keeping the best checkpoint by a validation metric (`default_hooks.checkpoint.save_best`), on the toy task:
the epoch with the best score is kept wherever a run is killed and resumed, its file loads weights-only, and
a finished run is tested with it (else with the last checkpoint), saying which."""
import itertools
import os
from pathlib import Path

import pytest
import torch
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook

import engine_toy
from common.engine import HOOKS, build_runner, hooks as engine_hooks, load_config, runner as engine_runner
from common.engine.checkpoint import CheckpointError

CONFIG = str(Path(engine_toy.__file__).parent / "configs" / "toy_narrow.py")
# A composite criterion whose best epoch is not the last: the toy's accuracy plus a scripted bonus per epoch.
BONUS = {1: 0.1, 2: 0.3, 3: 0.9, 4: 0.0}
_run_ids = itertools.count()


@HOOKS.register_module(force=True)
class CompositeScoreHook(Hook):
    """Adds `score` = acc + BONUS[epoch] to the validation metrics, before the checkpoint hook reads them."""

    priority = "NORMAL"

    def after_val_epoch(self, runner, metrics=None):
        metrics["score"] = metrics["acc"] + BONUS[runner.epoch]


def train(work_dir, save_best="score", **cfg_options):
    options = {"custom_hooks": [dict(type="CompositeScoreHook")], "default_hooks.checkpoint.max_keep_ckpts": 1}
    if save_best:
        options.update({"default_hooks.checkpoint.save_best": save_best, "default_hooks.checkpoint.rule": "greater"})
    cfg = load_config(CONFIG, dict(options, **cfg_options))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f"best_{os.getpid()}_{next(_run_ids)}"
    cfg.log_level = "WARNING"
    runner = build_runner(cfg)
    runner.train()
    return runner, cfg


def best_files(work_dir):
    return sorted(p.name for p in Path(work_dir).glob("best_*"))


def test_the_best_epoch_is_kept_tested_and_loads_weights_only(toy_dir, capsys):
    runner, cfg = train(toy_dir / "run")
    scores = [BONUS[e] for e in range(1, 5)]
    assert best_files(toy_dir / "run") == ["best_score_epoch_3.pth"]  # not the last epoch's
    best = torch.load(toy_dir / "run" / "best_score_epoch_3.pth")  # torch's weights_only default
    assert best["meta"]["epoch"] == 3 and "optimizer" not in best
    last = torch.load(toy_dir / "run" / "epoch_4.pth")
    info = last["message_hub"]["runtime_info"]
    assert info["best_ckpt"] == str(toy_dir / "run" / "best_score_epoch_3.pth")
    assert info["best_score"] > max(scores[:2] + scores[3:]) + 0.1
    assert (toy_dir / "run" / "last_checkpoint").read_text() == str(toy_dir / "run" / "epoch_4.pth")

    capsys.readouterr()
    tested = engine_runner.test_final_checkpoint(cfg, runner)
    out = capsys.readouterr().out
    assert f"testing the best checkpoint by score ({info['best_score']:.4f}): {info['best_ckpt']}" in out
    assert tested["acc"] == pytest.approx(info["best_score"] - BONUS[3])


def test_without_save_best_the_last_checkpoint_is_tested(toy_dir, capsys):
    runner, cfg = train(toy_dir / "run", save_best=None)
    assert best_files(toy_dir / "run") == []
    engine_runner.test_final_checkpoint(cfg, runner)
    assert f"testing the last checkpoint: {toy_dir / 'run' / 'epoch_4.pth'}" in capsys.readouterr().out


def test_an_unknown_save_best_key_names_the_metrics(toy_dir):
    with pytest.raises(KeyError, match=r"save_best \['pc'\] is not among the validation metrics \['acc', 'score'\]"):
        train(toy_dir / "run", save_best="pc")


def kill_writing_best(patch):
    write = LocalBackend.put

    def put_and_die(self, obj, filepath):
        if str(filepath).endswith(".best_score_epoch_3.pth.partial"):
            write(self, obj[: len(obj) // 2], filepath)
            raise KeyboardInterrupt("killed while writing the best checkpoint")
        write(self, obj, filepath)
    patch.setattr(LocalBackend, "put", put_and_die)


def kill_after_commit(name, nth):
    def kill(patch):
        commit, seen = engine_runner.commit_file, []

        def commit_and_die(tmp_path, path):
            commit(tmp_path, path)
            if os.path.basename(path) == name:
                seen.append(path)
                if len(seen) == nth:
                    raise KeyboardInterrupt(f"killed after writing {name} ({nth})")
        patch.setattr(engine_runner, "commit_file", commit_and_die)
    return kill


def kill_before_val_metrics(patch):
    write = engine_hooks.atomic_write_text

    def write_or_die(path, text):
        if path.endswith("val_metrics.json") and '"epoch": 3' in text:
            raise KeyboardInterrupt("killed before recording epoch 3's validation")
        write(path, text)
    patch.setattr(engine_hooks, "atomic_write_text", write_or_die)


@pytest.mark.parametrize("kill", [
    kill_writing_best,                               # the new best half written
    kill_after_commit("best_score_epoch_3.pth", 1),  # the new best written, the epoch's checkpoint not yet rewritten
    kill_after_commit("epoch_3.pth", 2),             # rewritten, the previous best not yet removed
    kill_before_val_metrics,                         # all done but the record that epoch 3 was validated
], ids=["writing-best", "best-written", "epoch-rewritten", "before-val-metrics"])
def test_killed_while_keeping_the_best_then_resumed_keeps_the_same_best(toy_dir, monkeypatch, kill):
    train(toy_dir / "full")
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        kill(patch)
        train(toy_dir / "killed")
    killed = toy_dir / "killed"
    train(killed, resume=True)

    assert best_files(killed) == best_files(toy_dir / "full") == ["best_score_epoch_3.pth"]
    assert not list(killed.glob(".*.partial"))
    full, again = (torch.load(d / "best_score_epoch_3.pth") for d in (toy_dir / "full", killed))
    for key, value in full["state_dict"].items():
        assert torch.equal(value, again["state_dict"][key]), key
    full, again = (torch.load(d / "epoch_4.pth") for d in (toy_dir / "full", killed))
    for key, value in full["state_dict"].items():  # exact resume: the same final weights
        assert torch.equal(value, again["state_dict"][key]), key
    info, info_again = (c["message_hub"]["runtime_info"] for c in (full, again))
    assert info_again["best_ckpt"] == str(killed / "best_score_epoch_3.pth")
    assert info_again["best_score"] == info["best_score"]


def test_resume_never_starts_from_a_best_checkpoint(toy_dir):
    train(toy_dir / "run")
    run = toy_dir / "run"
    (run / "last_checkpoint").unlink()
    (run / "epoch_4.pth").write_bytes((run / "epoch_4.pth").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="no intact checkpoint") as err:
        train(run, resume=True)  # best_score_epoch_3.pth reads whole, but holds no optimizer state
    assert "best_score" not in str(err.value)
