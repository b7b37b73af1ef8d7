"""A short engine training run on the toy set: learns well above chance, writes upstream-format
predictions that asmamba.evaluate scores identically, and a plain state_dict (upstream's checkpoint
form) loads straight into tools/test.py's path."""
import json
from collections import Counter

import pytest
import torch

from asmamba.evaluate import main as evaluate_main
from asmamba.toy import make_toy_data
from common.engine import build_runner, load_config

EPOCHS = 4


def toy_config(data_root, work_dir, pred_dir, **extra):
    options = {f"{k}_dataloader.dataset.data_root": data_root for k in ("train", "val", "test")}
    options.update({
        # a tiny model, a higher learning rate and no channel masking: this is a smoke test of learning
        "model.num_f_maps": 32, "model.num_layers": 5, "model.num_decoders": 1, "model.channel_masking_rate": 0.0,
        "optim_wrapper.optimizer.lr": 2e-3, "train_cfg.max_epochs": EPOCHS, "train_cfg.val_interval": EPOCHS,
        "default_hooks.checkpoint.interval": EPOCHS, "test_evaluator.pred_dir": pred_dir, **extra})
    cfg = load_config("asmamba/configs/toy/asformer_toy.py", options)
    cfg.work_dir = work_dir
    return cfg


def test_short_training_beats_chance_and_predictions_score_alike(tmp_path, capsys):
    root, preds = str(tmp_path / "toy"), str(tmp_path / "preds")
    make_toy_data(root, seed=0)
    runner = build_runner(toy_config(root, str(tmp_path / "wd"), preds))
    runner.train()
    metrics = runner.test()

    labels = [line for f in (tmp_path / "toy" / "splits" / "test.split1.bundle").read_text().split()
              for line in (tmp_path / "toy" / "groundTruth" / f).read_text().split()]
    chance = 100 * Counter(labels).most_common(1)[0][1] / len(labels)  # always the majority class
    assert chance < 30 and metrics["acc"] > 2 * chance

    capsys.readouterr()
    evaluate_main(["--data-root", root, "--split", "1", "--pred-dir", preds])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == pytest.approx(metrics)

    plain = tmp_path / "epoch-4.model"
    torch.save(runner.model.state_dict(), plain)  # what upstream ASFormer saves
    reloaded = build_runner(toy_config(root, str(tmp_path / "wd2"), str(tmp_path / "preds2"), load_from=str(plain)))
    assert reloaded.test() == pytest.approx(metrics)
