"""A short TeSTra run on the toy set through the engine: recall clearly above chance, the test run's score file
re-scores to the same numbers with `python -m testra_mamba.evaluate`, the challenge json and the anticipation
plot are written, and the validation reports the streaming latency."""
import json
import os

import numpy as np
import pytest
import torch

from common.engine import build_runner, load_config
from testra_mamba import TASK
from testra_mamba.datasets import EK100AnticipationDataset
from testra_mamba.evaluate import main as evaluate_main
from testra_mamba.metrics import KEYS, chance_recall

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_testra_mamba")
    TASK.make_toy_data(str(root), seed=1)
    return root


def toy_config(root, work_dir, epochs):
    data = dict(data_root=str(root), annotations=str(root / "annotations"))
    return load_config(os.path.join(REPO, "testra_mamba/configs/toy/testra.py"), {
        "work_dir": str(work_dir),
        "model.annotations": data["annotations"],
        "train_dataloader.dataset": data, "val_dataloader.dataset": dict(data, track_videos=2),
        "test_dataloader.dataset": dict(data, track_videos=2),
        "train_cfg.max_epochs": epochs, "train_cfg.val_interval": epochs, "optim_wrapper.optimizer.lr": 3e-3,
        "param_scheduler": [dict(type="LinearLR", start_factor=0.3, by_epoch=True, begin=0, end=1,
                                 convert_to_iter_based=True),
                            dict(type="CosineAnnealingLR", T_max=epochs, by_epoch=True, begin=0, end=epochs,
                                 convert_to_iter_based=True)],
        "default_hooks.checkpoint.interval": epochs,
        "visualizer.vis_backends": [dict(type="LocalVisBackend")],
    })


def test_toy_set_is_ek100_format(toy_root):
    ann = toy_root / "annotations"
    train = EK100AnticipationDataset(str(toy_root), str(ann), "training", True, feature_dims=(32, 32))
    val = EK100AnticipationDataset(str(toy_root), str(ann), "validation", False, feature_dims=(32, 32))
    assert train[0]["history"].shape == (276, 64) and train[0]["action"].shape[0] == 12
    new = {s.participant for s in val.segments} - {s.participant for s in train.segments}
    unseen = set((ann / "validation_unseen_participants_ids.csv").read_text().split())
    assert new and unseen == {s.id for s in val.segments if s.participant in new}
    tail = set((ann / "validation_tail_actions_ids.csv").read_text().split())
    assert tail and tail < {s.id for s in val.segments}
    counts = np.bincount([s.action for s in train.segments])
    assert counts.max() >= 10 * counts[counts > 0].min()  # a long tail


def test_short_training_beats_chance_and_scores_rescore(toy_root, tmp_path, capsys):
    torch.manual_seed(0)
    epochs = 6
    runner = build_runner(toy_config(toy_root, tmp_path, epochs))
    runner.train()
    val = json.loads((tmp_path / "val_metrics.json").read_text())
    chance = chance_recall(runner.model.classifier.out_features - 1)
    assert val["overall_action"] > 3 * chance and val["overall_verb"] > 70 and val["stream_ms"] > 0

    cfg = toy_config(toy_root, tmp_path / "test", epochs)
    cfg.load_from = str(tmp_path / f"epoch_{epochs}.pth")
    tested = build_runner(cfg).test()
    scores = tmp_path / "test" / "anticipation_scores.npz"
    capsys.readouterr()
    evaluate_main(["--annotations", str(toy_root / "annotations"), "--scores", str(scores)])
    rescored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(rescored) == list(KEYS)
    for key in KEYS:
        assert rescored[key] == pytest.approx(tested[key], abs=1e-3) == pytest.approx(val[key], abs=1e-3)

    challenge = json.loads((tmp_path / "test" / "challenge.json").read_text())
    with np.load(scores) as archive:
        ids = archive["ids"].tolist()
    assert sorted(challenge["results"]) == sorted(ids) and challenge["challenge"] == "action_anticipation"
    png = tmp_path / "anticipation.png"
    TASK.plot_predictions(cfg, {"TeSTra": str(tmp_path), "TeSTra (test run)": str(tmp_path / "test")}, str(png))
    assert png.stat().st_size > 10_000
