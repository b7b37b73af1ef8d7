"""ActivityNet detection mAP (actionmamba.metrics / actionmamba.evaluate) on hand-worked cases."""
import json

import numpy as np
import pytest
import torch

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
    assert id_to_name == {0: "A", 1: "B"} and videos == {"v1"}
    assert gt["A"]["v1"].tolist() == [[0.0, 10.0]]
    assert gt["B"]["v1"].tolist() == [[20.0, 30.0]] and "v2" not in gt["B"]


def test_predictions_by_name_or_id_and_unknown_label(tmp_path):
    preds = read_predictions({"results": {"v1": [{"segment": [0, 1], "label": 1, "score": 0.5},
                                                  {"segment": [0, 1], "label": "A", "score": 0.4}]}}, {0: "A", 1: "B"},
                             {"v1"})
    assert preds == {"B": [("v1", 0.0, 1.0, 0.5)], "A": [("v1", 0.0, 1.0, 0.4)]}
    with pytest.raises(ValueError, match=r"preds.json: video 'v1' detection 0: unknown label 'C'"):
        read_predictions({"results": {"v1": [{"segment": [0, 1], "label": "C", "score": 0.5}]}}, {0: "A"}, {"v1"},
                         source="preds.json")


@pytest.mark.parametrize("det, problem", [
    ({"segment": [5, 1], "label": "A", "score": 0.5}, r"segment \[5.0, 1.0\] is not a finite \[start, end\]"),
    ({"segment": [float("nan"), 1], "label": "A", "score": 0.5}, r"segment \[nan, 1.0\] is not a finite"),
    ({"segment": [0, 1], "label": "A", "score": float("nan")}, "score nan is not finite"),
    ({"segment": [0, 1], "label": 7, "score": 0.5}, "unknown label id 7"),
    ({"segment": [0], "label": "A", "score": 0.5}, "expected 'segment': \\[s, e\\]"),
])
def test_malformed_detections_are_errors(det, problem):
    with pytest.raises(ValueError, match="p.json: video 'v1' detection 0: " + problem):
        read_predictions({"results": {"v1": [det]}}, {0: "A"}, {"v1"}, source="p.json")


def test_videos_outside_the_split_warn_and_count_as_false_positives():
    ground_truth = {"A": {"v1": np.array([[0.0, 10.0]])}}
    results = {"results": {"v1": [{"segment": [0, 10], "label": "A", "score": 0.5}],
                           "vx": [{"segment": [0, 10], "label": "A", "score": 0.9}]}}
    with pytest.warns(UserWarning, match="1 video\\(s\\) outside the scored split.*'vx'"):
        predictions = read_predictions(results, {0: "A"}, {"v1"})
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
