"""A short engine run of the toy PDVC: its captions beat the floor (the same predictions with the training
set's most frequent sentence), the test run's results json re-scores to its test metrics, and the timeline
figure draws from it."""
import json
import os
from collections import Counter

import pytest
import torch

from common.engine import build_runner, load_config
from pdvc_mamba import metrics as M
from pdvc_mamba.datasets import Vocabulary, load_captions
from pdvc_mamba.toy import make_toy_data
from pdvc_mamba.visualize import plot_predictions

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = 8
pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_pdvc")
    make_toy_data(str(root), seed=1, n_train=64, n_val=12)
    return root


def toy_config(root, work_dir):
    data = dict(vocab_file=str(root / "vocabulary_activitynet.json"), feature_folders=[str(root / "features" / "c3d")])
    caption = str(root / "captiondata" / "{}.json")
    para = str(root / "captiondata" / "para" / "anet_entities_{}_para.json")
    evaluator = dict(references=[caption.format("val_1"), caption.format("val_2")],
                     para_references=[para.format("val_1"), para.format("val_2")])
    cfg = load_config(os.path.join(REPO, "pdvc_mamba/configs/toy/pdvc.py"), {
        "train_dataloader.dataset": dict(data, caption_file=caption.format("train_modified")),
        "val_dataloader.dataset": dict(data, caption_file=caption.format("val_1")),
        "test_dataloader.dataset": dict(data, caption_file=caption.format("val_1")),
        "train_dataloader.batch_size": 4,
        "val_evaluator": evaluator, "test_evaluator": evaluator,
        "train_cfg.max_epochs": EPOCHS, "train_cfg.val_interval": EPOCHS + 1,  # test only
        "param_scheduler": [dict(type="CosineAnnealingLR", T_max=EPOCHS, eta_min=1e-5, by_epoch=True, begin=0,
                                 end=EPOCHS, convert_to_iter_based=True)],
        "default_hooks.checkpoint.interval": EPOCHS,
        "visualizer.vis_backends": [dict(type="LocalVisBackend")],
    })
    cfg.work_dir = str(work_dir)
    return cfg, evaluator


def test_short_run_beats_the_frequent_sentence_floor(toy_root, tmp_path):
    torch.manual_seed(0)
    cfg, evaluator = toy_config(toy_root, tmp_path)
    runner = build_runner(cfg)
    runner.train()
    tested = runner.test()

    raw = json.loads((tmp_path / "results.json").read_text())
    ranked = json.loads((tmp_path / "results_reranked.json").read_text())
    assert raw["rerank"] == dict(alpha=1.0, temperature=2.0) and ranked["rerank"] is None
    assert {len(v) for v in raw["results"].values()} == {10}  # every query, as PDVC's results json
    references = M.load_references(evaluator["references"])
    vocab = Vocabulary(str(toy_root / "vocabulary_activitynet.json"))
    train = load_captions(str(toy_root / "captiondata" / "train_modified.json"))
    frequent = Counter(vocab.decode(vocab.encode(s, 30)[1:]) for v in train.values() for s in v["sentences"])
    floor = {vid: [dict(p, sentence=frequent.most_common(1)[0][0]) for p in entries]
             for vid, entries in ranked["results"].items()}
    rescored = M.eval_metrics(M.rerank(M.validate_predictions(raw, "raw", True), 1.0), references,
                              M.load_paragraphs(evaluator["para_references"]))
    floor_meteor = M.eval_metrics(floor, references)["METEOR"]
    rescored.update(M.selection_criteria(rescored))  # the metric adds the best-checkpoint criteria dvc and pc
    assert rescored == pytest.approx(tested, rel=1e-12)  # set order (PYTHONHASHSEED) may move a last bit
    assert tested["METEOR"] > 2 * floor_meteor > 0 and tested["Recall"] > 0.3

    figure = tmp_path / "timeline.png"
    plot_predictions(cfg, {"pdvc": str(tmp_path), "missing run": str(tmp_path / "none")}, str(figure))
    assert figure.stat().st_size > 10_000
