"""A short ActionFormer run on the toy set through the engine: mAP far above chance, and the test run's
results file re-scores to the same numbers with `python -m actionmamba.evaluate`."""
import glob
import json
import os

import pytest
import torch

from actionmamba import TASK
from actionmamba.evaluate import main as evaluate_main
from common.engine import build_runner, load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_actionmamba")
    TASK.make_toy_data(str(root), seed=1)
    return root


def toy_config(root, work_dir, epochs):
    data = dict(ann_file=str(root / "annotations.json"), feat_folder=str(root / "features"))
    return load_config(os.path.join(REPO, "actionmamba/configs/toy/actionformer.py"), {
        "work_dir": str(work_dir),
        "train_dataloader.dataset": data, "val_dataloader.dataset": data, "test_dataloader.dataset": data,
        "train_cfg.max_epochs": epochs, "train_cfg.val_interval": epochs,
        "param_scheduler": [dict(type="LinearLR", start_factor=1e-8, begin=0, end=1, convert_to_iter_based=True),
                            dict(type="CosineAnnealingLR", T_max=epochs - 1, eta_min=1e-8, begin=1, end=epochs,
                                 convert_to_iter_based=True)],
        # few iterations: a short EMA horizon, so the averaged weights are the trained ones
        "custom_hooks": [dict(type="EMAHook", momentum=0.05)],
        "default_hooks.checkpoint.interval": epochs,
        "visualizer.vis_backends": [dict(type="LocalVisBackend")],
    })


def test_toy_data_is_thumos_format(toy_root):
    database = json.loads((toy_root / "annotations.json").read_text())["database"]
    subsets = {v["subset"] for v in database.values()}
    lengths = [a["segment"][1] - a["segment"][0] for v in database.values() for a in v["annotations"]]
    assert subsets == {"validation", "test"} and min(lengths) < 0.5 and max(lengths) > 8
    assert min(len(v["annotations"]) for v in database.values()) >= 2
    vid = next(iter(database))
    assert (toy_root / "features" / f"{vid}.npy").exists()


def test_short_training_beats_chance_and_results_rescore(toy_root, tmp_path, capsys):
    torch.manual_seed(0)
    epochs = 4
    runner = build_runner(toy_config(toy_root, tmp_path, epochs))
    runner.train()
    scalars = [json.loads(line) for path in glob.glob(str(tmp_path / "*" / "vis_data" / "scalars.json"))
               for line in open(path)]
    val = [s for s in scalars if "mAP_avg" in s][-1]
    # random segments score a few percent; a model that localises scores far above
    assert val["mAP@0.50"] > 40 and val["mAP_avg"] > 35

    cfg = toy_config(toy_root, tmp_path / "test", epochs)
    cfg.load_from = str(tmp_path / f"epoch_{epochs}.pth")
    tested = build_runner(cfg).test()
    results = tmp_path / "test" / "results.json"
    assert results.exists()
    capsys.readouterr()
    evaluate_main(["--annotations", str(toy_root / "annotations.json"), "--split", "test",
                   "--predictions", str(results)])
    rescored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rescored["mAP_avg"] == pytest.approx(tested["mAP_avg"], abs=1e-3)
    assert rescored["mAP_avg"] == pytest.approx(val["mAP_avg"], abs=1e-3)  # the test run used the EMA weights
