"""ActivityNet detection mAP (actionmamba.metrics / actionmamba.evaluate) on hand-worked cases."""
import json

import numpy as np
import pytest
import torch

from actionmamba.datasets import ActionLocalizationDataset
from actionmamba.evaluate import main as evaluate_main
from actionmamba.metrics import (DetectionMAP, class_average_precision, evaluate_detections, fuse_external_scores,
                                 interpolated_ap, load_ground_truth, read_predictions)

TIOUS = (0.5,)


def ap(gt, preds, tious=TIOUS):
    return class_average_precision({v: np.array(s, dtype=float) for v, s in gt.items()}, preds, tious)


def test_interpolated_ap_matches_hand_computation():
    # precision 1, 0.5, 2/3 at recall 0.5, 0.5, 1: envelope 1 up to recall 0.5, then 2/3
    assert interpolated_ap(np.array([1, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert interpolated_ap(np.array([0.0]), np.array([0.0])) == 0.0


def test_perfect_and_false_positive_after():
    gt = {"v1": [[0, 10]]}
    assert ap(gt, [("v1", 0, 10, 0.9), ("v1", 20, 30, 0.8)]) == pytest.approx([1.0])
    # the false positive ranked first halves precision at full recall
    assert ap(gt, [("v1", 0, 10, 0.8), ("v1", 20, 30, 0.9)]) == pytest.approx([0.5])


def test_duplicate_detection_is_a_false_positive():
    gt = {"v1": [[0, 10], [20, 30]]}
    preds = [("v1", 0, 10, 0.9), ("v1", 0, 10, 0.8), ("v1", 20, 30, 0.7)]
    # TP, FP (ground truth already taken), TP -> 0.5 * 1 + 0.5 * 2/3
    assert ap(gt, preds) == pytest.approx([0.5 + 0.5 * 2 / 3])


def test_ties_visit_later_listed_prediction_first():
    gt = {"v1": [[0, 10]]}
    # the official code's reversed argsort: among equal scores the one listed last is ranked first
    assert ap(gt, [("v1", 20, 30, 0.5), ("v1", 0, 10, 0.5)]) == pytest.approx([1.0])
    assert ap(gt, [("v1", 0, 10, 0.5), ("v1", 20, 30, 0.5)]) == pytest.approx([0.5])


def test_prediction_on_video_without_ground_truth_is_false_positive():
    gt = {"v1": [[0, 10]]}
    assert ap(gt, [("v2", 0, 10, 0.9), ("v1", 0, 10, 0.8)]) == pytest.approx([0.5])


def test_threshold_and_matching_order():
    gt = {"v1": [[0, 10], [4, 14]]}
    # [0, 8]: tIoU 0.8 with [0, 10], 4/14 with [4, 14]
    assert ap({"v1": [[0, 10]]}, [("v1", 0, 8, 0.9)], (0.5, 0.7, 0.9)) == pytest.approx([1, 1, 0])
    # highest-tIoU ground truth first; once taken, the next one above the threshold is used
    preds = [("v1", 0, 10, 0.9), ("v1", 0, 10, 0.8)]  # second: [4, 14] has tIoU 6/14 < 0.5 -> FP
    assert ap(gt, preds) == pytest.approx([0.5])
    assert ap(gt, preds, (0.4,)) == pytest.approx([1.0])


def test_class_without_predictions_counts_zero_in_map():
    ground_truth = {"A": {"v1": np.array([[0.0, 10.0]])}, "B": {"v1": np.array([[20.0, 30.0]])}}
    scores, per_class = evaluate_detections(ground_truth, {"A": [("v1", 0, 10, 0.9)]}, (0.5, 0.7))
    assert per_class == {"A": [1.0, 1.0], "B": [0.0, 0.0]}
    assert scores == {"mAP@0.50": 50.0, "mAP@0.70": 50.0, "mAP_avg": 50.0}


def write_annotations(path):
    database = {
        "v1": {"subset": "test", "duration": 40.0, "fps": 30,
               "annotations": [{"segment": [0.0, 10.0], "label": "A", "label_id": 0},
                               {"segment": [0.0, 10.0005], "label": "A", "label_id": 0},  # duplicate
                               {"segment": [5.0, 5.0005], "label": "A", "label_id": 0},  # < 1 ms
                               {"segment": [20.0, 30.0], "label": "B", "label_id": 1}]},
        "v2": {"subset": "validation", "duration": 40.0, "fps": 30,
               "annotations": [{"segment": [1.0, 2.0], "label": "B", "label_id": 1}]},
    }
    path.write_text(json.dumps({"database": database}))


def test_ground_truth_filters_split_duplicates_and_tiny_segments(tmp_path):
    ann = tmp_path / "ann.json"
    write_annotations(ann)
    gt, id_to_name, videos = load_ground_truth(str(ann), "test")
    assert id_to_name == {0: "A", 1: "B"} and videos == {"v1": 40.0}
    assert gt["A"]["v1"].tolist() == [[0.0, 10.0]]
    assert gt["B"]["v1"].tolist() == [[20.0, 30.0]] and "v2" not in gt["B"]


def test_predictions_by_name_or_id_and_unknown_label(tmp_path):
    preds = read_predictions({"results": {"v1": [{"segment": [0, 1], "label": 1, "score": 0.5},
                                                  {"segment": [0, 1], "label": "A", "score": 0.4}]}}, {0: "A", 1: "B"},
                             {"v1": 10.0})
    assert preds == {"B": [("v1", 0.0, 1.0, 0.5)], "A": [("v1", 0.0, 1.0, 0.4)]}
    with pytest.raises(ValueError, match=r"preds.json: video 'v1' detection 0: unknown label 'C'"):
        read_predictions({"results": {"v1": [{"segment": [0, 1], "label": "C", "score": 0.5}]}}, {0: "A"}, {"v1": 10.0},
                         source="preds.json")


@pytest.mark.parametrize("det, problem", [
    ({"segment": [5, 1], "label": "A", "score": 0.5}, r"segment: end 1 is before start 5"),
    ({"segment": [float("nan"), 1], "label": "A", "score": 0.5}, r"segment \[nan, 1.0\] is not finite"),
    ({"segment": [0, 1], "label": "A", "score": float("nan")}, "score nan is not finite"),
    ({"segment": [0, 1], "label": 7, "score": 0.5}, "unknown label id 7"),
    ({"segment": [0], "label": "A", "score": 0.5}, "expected 'segment': \\[s, e\\]"),
])
def test_malformed_detections_are_errors(det, problem):
    with pytest.raises(ValueError, match="p.json: video 'v1' detection 0: " + problem):
        read_predictions({"results": {"v1": [det]}}, {0: "A"}, {"v1": 10.0}, source="p.json")


def test_videos_outside_the_split_warn_and_count_as_false_positives():
    ground_truth = {"A": {"v1": np.array([[0.0, 10.0]])}}
    results = {"results": {"v1": [{"segment": [0, 10], "label": "A", "score": 0.5}],
                           "vx": [{"segment": [0, 10], "label": "A", "score": 0.9}]}}
    with pytest.warns(UserWarning, match="1 video\\(s\\) outside the scored split.*'vx'"):
        predictions = read_predictions(results, {0: "A"}, {"v1": 10.0})
    # ranked first, the false positive halves precision at the true positive: AP = 0.5
    assert evaluate_detections(ground_truth, predictions, (0.5,))[0]["mAP@0.50"] == pytest.approx(50.0)


@pytest.mark.parametrize("tious", [(0.0, 0.5), (0.5, 1.2), ()])
def test_thresholds_outside_zero_one_are_errors(tious):
    with pytest.raises(ValueError, match="tIoU thresholds must be in \\(0, 1\\]"):
        evaluate_detections({"A": {"v1": np.array([[0.0, 1.0]])}}, {}, tious)


def test_duplicate_videos_and_empty_splits_are_errors(tmp_path, capsys):
    ann, preds = tmp_path / "ann.json", tmp_path / "preds.json"
    write_annotations(ann)
    det = '{"segment": [0, 10], "label": "A", "score": 0.9}'
    preds.write_text('{"results": {"v1": [' + det + '], "v1": [' + det + ']}}')
    with pytest.raises(SystemExit, match="preds.json: key 'v1' appears twice in one object"):
        evaluate_main(["--annotations", str(ann), "--split", "test", "--predictions", str(preds)])
    with pytest.raises(SystemExit, match="no video in subset \\['training'\\]"):
        evaluate_main(["--annotations", str(ann), "--split", "training", "--predictions", str(preds)])
    ann.write_text(json.dumps({"database": {"v1": {"subset": "test", "duration": 9, "annotations": []}}}))
    with pytest.raises(SystemExit, match="hold no ground-truth segment"):
        evaluate_main(["--annotations", str(ann), "--split", "test", "--predictions", str(preds)])


def test_cli_prints_json_last_line(tmp_path, capsys):
    ann, preds = tmp_path / "ann.json", tmp_path / "preds.json"
    write_annotations(ann)
    preds.write_text(json.dumps({"results": {"v1": [{"segment": [0, 10], "label": "A", "score": 0.9},
                                                    {"segment": [19, 30], "label": 1, "score": 0.8}]}}))
    evaluate_main(["--annotations", str(ann), "--split", "test", "--predictions", str(preds)])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # THUMOS thresholds (the json has a 'test' subset); B's [19, 30] has tIoU 10/11 = 0.909
    assert last == {"mAP@0.30": 100.0, "mAP@0.40": 100.0, "mAP@0.50": 100.0, "mAP@0.60": 100.0,
                    "mAP@0.70": 100.0, "mAP_avg": 100.0}
    evaluate_main(["--annotations", str(ann), "--split", "test", "--predictions", str(preds), "--tiou", "0.95"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"mAP@0.95": 50.0, "mAP_avg": 50.0}


def test_external_score_fusion_hand_values():
    fused = fuse_external_scores({"v1": [{"segment": [1.0, 2.0], "label": 0, "score": 0.64}]},
                                 {"v_v1": [0.25, 0.81, 0.04]}, ["A", "B", "C"], topk=2)
    assert fused == {"v1": [{"segment": [1.0, 2.0], "label": "B", "score": pytest.approx(0.72)},
                            {"segment": [1.0, 2.0], "label": "A", "score": pytest.approx(0.4)}]}


@pytest.mark.parametrize("scores, problem", [
    ([0.25, float("nan"), 0.04], r"class scores hold NaN"), ([0.25, 0.81], r"expected size 3 along axis 0"),
    ([0.25, -0.81, 0.04], "negative class scores"), ("x", "expected a list of class scores"),
])
def test_external_scores_must_be_one_probability_per_class(scores, problem):
    with pytest.raises(ValueError, match=f"cuhk.json: video 'v1': {problem}"):
        fuse_external_scores({"v1": [{"segment": [1.0, 2.0], "label": 0, "score": 0.64}]}, {"v_v1": scores},
                             ["A", "B", "C"], source="cuhk.json")
    with pytest.raises(ValueError, match="cuhk.json: no entry for video 'v2'"):
        fuse_external_scores({"v2": []}, {"v_v1": scores}, ["A", "B", "C"], source="cuhk.json")


def test_metric_writes_results_file_and_scores_it(tmp_path):
    ann = tmp_path / "ann.json"
    write_annotations(ann)
    metric = DetectionMAP(tiou_thresholds=(0.5,))
    metric.dataset_meta = dict(ann_file=str(ann), split=["test"], num_classes=2, classes=["A", "B"])
    metric.out_dir = str(tmp_path)
    metric.process({}, [dict(video_id="v1", segments=torch.tensor([[0.0, 10.0], [20.0, 30.0]]),
                             scores=torch.tensor([0.9, 0.2]), labels=torch.tensor([0, 0]))])
    assert metric.evaluate(1) == {"mAP@0.50": 50.0, "mAP_avg": 50.0}  # B has no detection
    written = json.loads((tmp_path / "results.json").read_text())["results"]["v1"]
    assert [d["label"] for d in written] == ["A", "A"] and written[0]["segment"] == [0.0, 10.0]


# --- the toy set (tools/make_toy_data.py actionmamba) and mutations of it: the loader and the evaluator read
# annotations through one reader, so they refuse the same files with the same words

@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from actionmamba import TASK
    root = tmp_path_factory.mktemp("toy_actionmamba")
    TASK.make_toy_data(str(root), seed=0)
    database = json.loads((root / "annotations.json").read_text())["database"]
    perfect = {vid: [dict(a, score=1.0) for a in v["annotations"]] for vid, v in database.items()
               if v["subset"] == "test"}
    (root / "perfect.json").write_text(json.dumps({"results": perfect}))
    return root


def toy_mutant(toy, tmp_path, change):
    """The toy annotations with `change(video)` applied to the first test video; -> (path, video id)."""
    data = json.loads((toy / "annotations.json").read_text())
    vid = next(v for v, video in data["database"].items() if video["subset"] == "test")
    change(data["database"][vid])
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(data))
    return path, vid


def toy_dataset(toy, ann_file):
    from common.engine import load_config
    cfg = dict(load_config("actionmamba/configs/toy/actionformer.py").test_dataloader.dataset)
    del cfg["type"]
    return ActionLocalizationDataset(**dict(cfg, ann_file=str(ann_file), feat_folder=str(toy / "features")))


def evaluate_toy(ann_file, predictions, capsys, *extra):
    capsys.readouterr()
    evaluate_main(["--annotations", str(ann_file), "--split", "test", "--predictions", str(predictions), *extra])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def reverse_first(video):
    start, end = video["annotations"][0]["segment"]
    video["annotations"][0]["segment"] = [end, start]


def past_the_end(seconds):
    def change(video):
        video["annotations"][0]["segment"][1] = round(video["duration"] + seconds, 3)
    return change


@pytest.mark.parametrize("change, problem", [
    (reverse_first, r"annotation 0: segment: end [\d.]+ is before start [\d.]+"),
    (past_the_end(5.0), r"annotation 0: segment \[[\d., ]+\] ends after the video's duration [\d.]+ \(tolerance 1\)"),
])
def test_reversed_or_past_the_duration_ground_truth_is_an_error_in_evaluator_and_loader(toy, tmp_path, capsys,
                                                                                       change, problem):
    assert evaluate_toy(toy / "annotations.json", toy / "perfect.json", capsys)["mAP_avg"] == 100.0
    path, vid = toy_mutant(toy, tmp_path, change)
    message = f"{path}: video '{vid}' {problem}"
    with pytest.raises(SystemExit, match=message):  # the evaluator dropped the reversed one, scored the other
        evaluate_toy(path, toy / "perfect.json", capsys)
    with pytest.raises(ValueError, match=message):
        toy_dataset(toy, path)


def test_ground_truth_within_the_tolerance_past_the_end_scores(toy, tmp_path, capsys):
    path, vid = toy_mutant(toy, tmp_path, past_the_end(0.5))  # ActivityNet's ends overshoot by up to 0.01 s
    assert toy_dataset(toy, path).videos
    assert evaluate_toy(path, toy / "perfect.json", capsys)["mAP_avg"] < 100.0  # the moved end is missed
    with pytest.raises(SystemExit, match=f"video '{vid}' annotation 0: segment .* ends after"):
        evaluate_toy(path, toy / "perfect.json", capsys, "--duration-tolerance", "0.1")


def test_thumos14s_known_annotation_errors_are_kept_as_upstream_scores_them(tmp_path):
    """ActionFormer's thumos14.json has segments that start after the end of five of its videos; they stay
    ground truth (unreachable) for those five, with a warning, and are an error anywhere else."""
    def write(vid):
        database = {vid: {"subset": "test", "duration": 176.25, "fps": 30.0, "annotations": [
            {"segment": [0.4, 1.5], "label": "A", "label_id": 0},
            {"segment": [706.3, 713.7], "label": "A", "label_id": 0}]}}
        (tmp_path / "t.json").write_text(json.dumps({"database": database}))
        return str(tmp_path / "t.json")
    with pytest.warns(UserWarning, match=r"t.json: segments past the video's end kept.*1 of video_test_0000270"):
        gt, _, videos = load_ground_truth(write("video_test_0000270"), "test")
    assert gt["A"]["video_test_0000270"].tolist() == [[0.4, 1.5], [706.3, 713.7]] and videos == {
        "video_test_0000270": 176.25}
    with pytest.raises(ValueError, match=r"video 'video_test_0000271' annotation 1: .* ends after"):
        load_ground_truth(write("video_test_0000271"), "test")


@pytest.mark.parametrize("scale, problem", [(30.0, "ends after the video's duration"), (-1.0, "starts before 0")])
def test_detections_outside_the_video_are_errors(toy, tmp_path, capsys, scale, problem):
    """Detections in frames instead of seconds (x fps), or mirrored: outside [0, duration] of their video."""
    results = json.loads((toy / "perfect.json").read_text())["results"]
    vid = next(iter(results))
    results[vid][0]["segment"] = sorted(scale * t for t in results[vid][0]["segment"])
    (tmp_path / "p.json").write_text(json.dumps({"results": results}))
    with pytest.raises(SystemExit, match=f"p.json: video '{vid}' detection 0: segment .*{problem}"):
        evaluate_toy(toy / "annotations.json", tmp_path / "p.json", capsys)
