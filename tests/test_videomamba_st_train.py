"""A short engine run on toy videos: mmaction2's Recognizer3D, pipelines and our metric trained by the shared
runner (common.engine) learn above chance, write a prediction file the CLI scores alike, and the checkpoint
tests again to the same numbers."""
import json

import pytest

from common.engine import build_runner, load_config
from videomamba_st import toy
from videomamba_st.evaluate import main as evaluate_main

EPOCHS = 8
# two of the toy's classes, told apart by the order of the background colours alone: quick to learn
CLASSES = ("red-green-blue/right", "blue-green-red/right")


def toy_config(root, work_dir, config="videomamba_st/configs/toy/vivim.py", **extra):
    options = {}
    for split, loader in (("train", "train"), ("val", "val"), ("val", "test")):
        options[f"{loader}_dataloader.dataset.ann_file"] = f"{root}/{split}_list_videos.txt"
        options[f"{loader}_dataloader.dataset.data_prefix.video"] = f"{root}/videos_{split}"
    options.update({
        # a 2-block model on 4 frames: a smoke test of learning, not the toy budget
        "model.backbone.num_frames": 4, "model.backbone.depth": 2,
        "model.cls_head.num_classes": len(CLASSES),
        "train_dataloader.dataset.pipeline.1.clip_len": 4, "val_dataloader.dataset.pipeline.1.clip_len": 4,
        "test_dataloader.dataset.pipeline.1.clip_len": 4,
        "train_dataloader.batch_size": 4, "train_dataloader.num_workers": 0,
        "train_dataloader.persistent_workers": False, "val_dataloader.num_workers": 0,
        "test_dataloader.num_workers": 0, "optim_wrapper.optimizer.lr": 1e-3,
        "train_cfg.max_epochs": EPOCHS, "train_cfg.val_interval": EPOCHS,
        "default_hooks.checkpoint.interval": EPOCHS, "param_scheduler": [], **extra})
    cfg = load_config(config, options)
    cfg.work_dir = work_dir
    return cfg


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(toy, "CLASSES", CLASSES)
        mp.setattr(toy, "VIDEOS_PER_CLASS", {"train": 12, "val": 8})
        root = str(tmp_path_factory.mktemp("toy") / "videomamba_st")
        toy.make_toy_data(root, seed=0)
    return root


def test_short_training_beats_chance_and_predictions_score_alike(toy_root, tmp_path, capsys):
    runner = build_runner(toy_config(toy_root, str(tmp_path / "wd")))
    runner.train()
    metrics = runner.test()
    assert metrics["acc/top1"] >= 0.8, metrics                              # chance: 0.5

    capsys.readouterr()
    evaluate_main([str(tmp_path / "wd" / "predictions.json")])
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scored == pytest.approx({k.split("/")[1]: v for k, v in metrics.items()})
    with open(tmp_path / "wd" / "predictions.json") as f:
        assert len(json.load(f)["videos"]) == 8 * len(CLASSES)

    reloaded = build_runner(toy_config(toy_root, str(tmp_path / "wd2"),
                                       load_from=str(tmp_path / "wd" / f"epoch_{EPOCHS}.pth")))
    assert reloaded.test() == pytest.approx(metrics)
