"""A short engine run on a small toy set: UniVTG grounds the query far above what any query-blind model can
reach, and the submission its test writes scores the same through the CLI."""
import json
from collections import defaultdict

import numpy as np
import pytest

from common.engine import build_runner, load_config
from common.segments import segment_iou
from univtg_mamba.evaluate import main as evaluate_main
from univtg_mamba.metrics import read_jsonl
from univtg_mamba.toy import make_toy_data

EPOCHS = 12


def query_blind_ceiling(ground_truth, iou=0.3):
    """R1@iou and VeryGood Hit@1 (percent) that no query-blind model can beat: it ranks the same windows and scores
    the same clips for every query of a video, so per video one window (tried: every ground-truth window) and
    one clip serve all its queries."""
    by_video = defaultdict(list)
    for item in ground_truth:
        by_video[item["vid"]].append(item)
    r1 = hit = 0
    for items in by_video.values():
        candidates = [w for item in items for w in item["relevant_windows"]]
        r1 += max(sum(segment_iou(w, item["relevant_windows"]).max() >= iou for item in items) for w in candidates)
        clips = defaultdict(int)
        for item in items:
            for clip, scores in zip(item["relevant_clip_ids"], item["saliency_scores"]):
                clips[clip] += max(scores) >= 4
        hit += max(clips.values())
    return 100 * r1 / len(ground_truth), 100 * hit / len(ground_truth)


def test_short_training_grounds_the_query_and_its_submission_scores_alike(tmp_path, capsys):
    root = str(tmp_path / "toy")
    make_toy_data(root, seed=1, videos=(100, 30))
    val = root + "/metadata/qvhighlights_val.jsonl"
    options = {f"{split}_dataloader.dataset.{key}": value for split in ("train", "val", "test") for key, value in (
        ("video_feat_dirs", [root + "/vid_slowfast", root + "/vid_clip"]), ("text_feat_dir", root + "/txt_clip"))}
    options.update({"train_dataloader.dataset.ann_file": root + "/metadata/qvhighlights_train.jsonl",
                    "val_dataloader.dataset.ann_file": val, "test_dataloader.dataset.ann_file": val,
                    "train_dataloader.batch_size": 8, "train_cfg.max_epochs": EPOCHS, "train_cfg.val_interval": EPOCHS,
                    "default_hooks.checkpoint.interval": EPOCHS, "param_scheduler.1.milestones": [EPOCHS - 2],
                    "param_scheduler.1.end": EPOCHS})
    cfg = load_config("univtg_mamba/configs/toy/univtg.py", options)
    cfg.work_dir = str(tmp_path / "work")
    runner = build_runner(cfg)
    runner.train()
    metrics = runner.test()

    r1_ceiling, hit_ceiling = query_blind_ceiling(read_jsonl(val))
    assert r1_ceiling < 50 and hit_ceiling < 60
    assert metrics["MR-full-R1@0.3-key"] > r1_ceiling + 20
    assert metrics["HL-min-VeryGood-Hit1-key"] > hit_ceiling + 15

    submission = tmp_path / "work" / "qvhighlights_val_submission.jsonl"
    qids = [json.loads(line)["qid"] for line in submission.read_text().splitlines()]
    assert qids == [d["qid"] for d in read_jsonl(val)]
    capsys.readouterr()
    evaluate_main(["--submission", str(submission), "--ground-truth", val])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == pytest.approx(metrics)
    assert np.isclose(metrics["MR-full-mAP-key"], json.loads((tmp_path / "work" / "test_metrics.json").read_text())
                      ["MR-full-mAP-key"])
