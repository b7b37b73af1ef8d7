"""The video suite's InternVideo2 set-ups: every config trains a step and scores on synthetic features written at
its real width, class count and file names; the suite's feature names, its HACS / FineAction loader rules
(excluded videos, zero-length segments, HACS's string durations) and its score fusion of logits.

The real HACS / FineAction annotation files (and the external score files) are over 4 MiB and could not be read
here; the HACS entry below is the one the HACS README prints (duration as a string), the rest is made up."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper

import actionmamba  # noqa: F401  (registers the data set, model and metric)
from actionmamba.datasets import ActionLocalizationDataset, actionformer_collate, load_annotations
from actionmamba.metrics import DetectionMAP, fuse_external_scores, load_ground_truth
from common.engine import DATASETS, METRICS, MODELS, load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "actionmamba/configs/*_internvideo2_*.py")))
pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py

# Each data set's real feature file name, video ids and steps of the synthetic videos (the real crops are 2304
# steps; ActivityNet's are resized to 192 whatever their length). FineAction's 400 steps are 200 after its
# downsample_rate 2.
DATA = {
    "thumos14": dict(ids=["video_validation_0000051", "video_validation_0000052", "video_test_0000004",
                          "video_test_0000006"], train="validation", val="test", steps=200,
                     name="{}_spatial_feature.pt"),
    "activitynet": dict(ids=["--1DO2V4K74", "--tFD65KaK4", "-0CTTPFWfWo", "-0dd8nLm9OM"], train="training",
                        val="validation", steps=120, name="v_{}_spatial_pool_feature_6.pt"),
    "hacs": dict(ids=["--0edUL8zmA", "--0vQoHUb3w", "-0uZTJXSpcA", "-1FOhzhxGNo"], train="training",
                 val="validation", steps=200, name="v_{}_spatial_pool_feature_6.pt"),
    "fineaction": dict(ids=["v_00000001", "v_00000002", "v_00000003", "v_00000004"], train="training",
                       val="validation", steps=400, name="{}_spatial_pool_feature_5.pt"),
}


def write_synthetic_set(root, cfg, data):
    """Annotations, features under their real names and (class-agnostic sets) a logit score file for `cfg`."""
    ds = cfg.train_dataloader.dataset
    fps = ds.get("default_fps") or 30.0
    duration = ((data["steps"] - 1) * ds.feat_stride + ds.num_frames) / fps
    num_classes = ds.num_classes
    names = [f"class_{i}" for i in range(max(num_classes, 5))]
    rng = np.random.default_rng(0)
    database = {}
    for i, vid in enumerate(data["ids"]):
        subset = data["train"] if i < 2 else data["val"]
        # the training videos between them hold every class (the loader wants num_classes names)
        per_video = -(-len(names) // 2)
        classes = range(i % 2 * per_video, min(len(names), (i % 2 + 1) * per_video)) if i < 2 else [i % len(names)]
        step = (duration - 1) / len(classes)
        anns = [dict(segment=[round(k * step + 0.5, 2), round(k * step + 0.5 + 0.8 * step, 2)], label=names[c],
                     label_id=c) for k, c in enumerate(classes)]
        database[vid] = dict(subset=subset, duration=round(duration, 3), fps=fps, annotations=anns)
        path = os.path.join(root, "features", data["name"].format(vid))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(torch.from_numpy(rng.normal(size=(data["steps"], ds.input_dim)).astype(np.float32)), path)
    with open(os.path.join(root, "ann.json"), "w") as f:
        json.dump(dict(database=database), f)
    scores = os.path.join(root, "scores.json")
    with open(scores, "w") as f:  # logits, as the suite's fusion allows: softmaxed (softmax_out_of_range)
        json.dump(dict(results={vid: rng.normal(size=len(names)).tolist() for vid in data["ids"]}), f)
    return os.path.join(root, "ann.json"), os.path.join(root, "features"), scores


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_suite_config_trains_a_step_and_scores(config, tmp_path, recwarn):
    cfg = load_config(os.path.join(REPO, "actionmamba/configs", config))
    data = DATA[config.split("_internvideo2")[0]]
    ann_file, feat_folder, scores = write_synthetic_set(str(tmp_path), cfg, data)
    paths = dict(ann_file=ann_file, feat_folder=feat_folder)
    train_set = DATASETS.build(dict(cfg.train_dataloader.dataset, **paths))
    assert [os.path.basename(train_set.feature_path(v["video_id"])) for v in train_set.videos] == \
        [data["name"].format(vid) for vid in data["ids"][:2]]

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = [p.detach().clone() for p in model.parameters()]
    losses = model.train_step(actionformer_collate([train_set[0], train_set[1]]), optim)
    assert all(torch.isfinite(v) for v in losses.values()) and losses["loss_cls"] > 0
    # (FineAction's top levels, strides 64 and 128, hold no positive in a 200-step video: their scales keep still)
    assert sum(not torch.equal(a, b) for a, b in zip(before, model.parameters())) > 0.75 * len(before)

    val_set = DATASETS.build(dict(cfg.val_dataloader.dataset, **paths))
    model.eval()
    evaluator = dict(cfg.val_evaluator, external_scores=scores) if cfg.val_evaluator.get("external_scores") \
        else cfg.val_evaluator
    metric = METRICS.build(evaluator)
    metric.dataset_meta = val_set.metainfo
    for i in range(len(val_set)):
        batch = actionformer_collate([val_set[i]])
        metric.process(None, model.val_step(batch))
    result = metric.evaluate(len(val_set))
    assert len(result) == len(cfg.val_evaluator.tiou_thresholds) + 1 and all(np.isfinite(list(result.values())))
    if cfg.val_evaluator.get("external_scores"):
        assert any("read as logits and softmaxed" in str(w.message) for w in recwarn)


def test_feature_file_name_is_prefix_id_suffix_ext(tmp_path):
    (tmp_path / "feats").mkdir()
    x = np.arange(40 * 8, dtype=np.float32).reshape(40, 8)
    torch.save(torch.from_numpy(x), tmp_path / "feats" / "v_abc_spatial_pool_feature_6.pt")
    (tmp_path / "ann.json").write_text(json.dumps({"database": {"abc": {
        "subset": "validation", "duration": 11.0, "annotations": [{"segment": [1.0, 2.0], "label": "A",
                                                                     "label_id": 0}]}}}))
    ds = ActionLocalizationDataset(str(tmp_path / "ann.json"), str(tmp_path / "feats"), "validation", 1, 8, 8, 16,
                                   2304, default_fps=30, file_prefix="v_", file_suffix="_spatial_pool_feature_6",
                                   file_ext=".pt", skip_missing_features=False)
    assert torch.equal(ds[0]["feats"], torch.from_numpy(x.T))
    with pytest.raises(FileNotFoundError, match=r"feats/v_abc\.pt: feature file not found for video 'abc'"):
        ActionLocalizationDataset(str(tmp_path / "ann.json"), str(tmp_path / "feats"), "validation", 1, 8, 8, 16,
                                  2304, default_fps=30, file_prefix="v_", file_ext=".pt", skip_missing_features=False)


def hacs_like(tmp_path):
    """HACS-format annotations: the HACS README's entry (duration a string), a zero-length segment beside a good
    one, a video whose only segment has zero length, and one of the suite's excluded ids."""
    def seg(s, e):
        return {"segment": [s, e], "label": "Dodgeball", "label_id": 54}
    database = {
        "--0edUL8zmA": {"subset": "training", "duration": "92.166667", "annotations": [seg(5.40, 11.60),
                                                                                        seg(12.60, 88.16)]},
        "zero_beside": {"subset": "validation", "duration": 30.0, "annotations": [seg(3.0, 3.0), seg(4.0, 9.0)]},
        "zero_only": {"subset": "validation", "duration": 30.0, "annotations": [seg(7.5, 7.5)]},
        "eiT_NhgxphY": {"subset": "validation", "duration": 30.0, "annotations": [seg(2.0, 6.0)]},
        "unlabelled": {"subset": "validation", "duration": 30.0, "annotations": []},
    }
    (tmp_path / "feats").mkdir()
    for vid, video in database.items():
        steps = int(float(video["duration"]) * 30 / 8)
        torch.save(torch.zeros(steps, 4), tmp_path / "feats" / f"v_{vid}_spatial_pool_feature_6.pt")
    path = tmp_path / "HACS_segments_v1.1.1_af.json"
    path.write_text(json.dumps({"database": database}))
    return str(path), str(tmp_path / "feats")


def hacs_dataset(ann, feats, split, **kw):
    return ActionLocalizationDataset(ann, feats, split, 1, 4, 8, 16, 2304, default_fps=30, file_prefix="v_",
                                     file_suffix="_spatial_pool_feature_6", file_ext=".pt",
                                     skip_missing_features=False, **kw)


def test_hacs_string_durations_read_as_numbers(tmp_path):
    ann, feats = hacs_like(tmp_path)
    database, _ = load_annotations(ann, num_classes=1)
    assert database["--0edUL8zmA"]["duration"] == 92.166667
    item = hacs_dataset(ann, feats, "training")[0]
    assert item["duration"] == 92.166667 and item["segments"].shape == (2, 2)
    data = json.loads(open(ann).read())
    data["database"]["zero_only"]["duration"] = "92 s"
    open(ann, "w").write(json.dumps(data))
    with pytest.raises(ValueError, match=r"HACS_segments_v1.1.1_af.json: video 'zero_only': expected a positive "
                                         r"'duration' in seconds, found '92 s'"):
        load_annotations(ann, num_classes=1)


def test_hacs_zero_length_segments_dropped_and_counted_excluded_videos_skipped(tmp_path):
    ann, feats = hacs_like(tmp_path)
    with pytest.warns(UserWarning) as record:
        ds = hacs_dataset(ann, feats, "validation", drop_zero_length=True, exclude_videos=["eiT_NhgxphY", "absent"])
    messages = sorted(str(w.message) for w in record)
    assert messages == [
        f"{ann}: 1 video(s) of subset ['validation'] skipped as the config's exclude_videos lists them: eiT_NhgxphY",
        f"{ann}: 2 zero-length segment(s) (end == start) of subset ['validation'] dropped (drop_zero_length); "
        "1 video(s) left without a segment skipped: zero_only"]
    assert [v["video_id"] for v in ds.videos] == ["zero_beside", "unlabelled"]
    assert ds.videos[0]["segments"].tolist() == [[4.0, 9.0]]
    # without the rule zero-length segments stay (training's 10 ms rule alone removes them there)
    kept = hacs_dataset(ann, feats, "validation")
    assert [v["video_id"] for v in kept.videos] == ["zero_beside", "zero_only", "eiT_NhgxphY", "unlabelled"]
    # the evaluator scores every video of the split, an excluded one included (as the suite's evaluator)
    ground_truth, _, videos = load_ground_truth(ann, "validation")
    assert sorted(ground_truth["Dodgeball"]) == ["eiT_NhgxphY", "zero_beside"] and "zero_only" in videos


def test_reversed_segments_stay_an_error_under_the_zero_length_rule(tmp_path):
    ann, feats = hacs_like(tmp_path)
    data = json.loads(open(ann).read())
    data["database"]["zero_only"]["annotations"][0]["segment"] = [7.5, 7.4]
    open(ann, "w").write(json.dumps(data))
    with pytest.raises(ValueError, match=r"video 'zero_only' annotation 0: segment: end 7.4 is before start 7.5"):
        hacs_dataset(ann, feats, "validation", drop_zero_length=True)


def test_external_scores_as_logits_or_nested_hand_values():
    dets = {"v1": [{"segment": [1.0, 2.0], "label": 0, "score": 0.64}]}
    # softmax of [0, ln 3, -50]: 0.25, 0.75, ~0; the list of one row as the suite's files may hold it
    with pytest.warns(UserWarning, match=r"s.json: the class scores of 1 of 1 video\(s\) lie outside \[0, 1\]"):
        fused = fuse_external_scores(dets, {"v1": [[0.0, float(np.log(3.0)), -50.0]]}, ["A", "B", "C"],
                                     source="s.json", softmax_out_of_range=True)
    assert [(d["label"], d["score"]) for d in fused["v1"]] == [("B", pytest.approx(np.sqrt(0.75 * 0.64))),
                                                             ("A", pytest.approx(np.sqrt(0.25 * 0.64)))]
    nested = fuse_external_scores(dets, {"v1": [[0.25, 0.75, 0.0]]}, ["A", "B", "C"])
    assert [(d["label"], d["score"]) for d in nested["v1"]] == [(d["label"], d["score"]) for d in fused["v1"]]
    with pytest.raises(ValueError, match=r"s.json: video 'v1': negative class scores .*softmax_out_of_range"):
        fuse_external_scores(dets, {"v1": [0.0, 1.1, -5.0]}, ["A", "B", "C"], source="s.json")


def test_metric_passes_the_softmax_rule_on(tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"database": {
        "v1": {"subset": "validation", "duration": 10.0, "annotations": [{"segment": [1.0, 2.0], "label": "B",
                                                                          "label_id": 1}]},
        "v0": {"subset": "training", "duration": 10.0, "annotations": [{"segment": [1.0, 2.0], "label": "A",
                                                                        "label_id": 0}]}}}))
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"results": {"v1": [-2.0, 3.0]}}))
    metric = DetectionMAP(tiou_thresholds=(0.5,), external_scores=str(scores), softmax_out_of_range=True)
    metric.dataset_meta = dict(ann_file=str(ann), split=["validation"], num_classes=1, classes=["A", "B"])
    metric.process(None, [dict(video_id="v1", segments=torch.tensor([[1.0, 2.0]]), scores=torch.tensor([0.9]),
                               labels=torch.tensor([0]))])
    with pytest.warns(UserWarning, match="read as logits and softmaxed"):
        assert metric.evaluate(1) == {"mAP@0.50": 100.0, "mAP_avg": 100.0}
