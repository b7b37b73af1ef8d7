"""QVHighlights MR / HL metrics on hand-worked cases, upstream's quirks one by one, the CLI."""
import json

import numpy as np
import pytest

from univtg_mamba.evaluate import main as evaluate_main
from univtg_mamba.metrics import eval_submission, highlight_ap, precision_recall_curve
from univtg_mamba.models.univtg import temporal_nms

BRIEF_KEYS = [  # upstream's order: the MR keys sorted, then HL Fair, Good, VeryGood (-key)
    "MR-full-R1@0.3-key", "MR-full-R1@0.5-key", "MR-full-R1@0.7-key", "MR-full-R5@0.3-key", "MR-full-R5@0.5-key",
    "MR-full-R5@0.7-key", "MR-full-mAP-key", "MR-full-mAP@0.5-key", "MR-full-mAP@0.75-key", "MR-full-mIoU-key",
    "MR-long-mAP", "MR-long-mIoU", "MR-middle-mAP", "MR-middle-mIoU", "MR-short-mAP", "MR-short-mIoU",
    "HL-min-Fair-mAP", "HL-min-Fair-Hit1", "HL-min-Good-mAP", "HL-min-Good-Hit1", "HL-min-VeryGood-mAP-key",
    "HL-min-VeryGood-Hit1-key"]


def gt(qid, windows, duration=150, clip_ids=None, scores=None):
    item = dict(qid=qid, query="q", vid=f"v{qid}", duration=duration, relevant_windows=windows)
    if clip_ids is not None:
        item.update(relevant_clip_ids=clip_ids, saliency_scores=scores)
    return item


def pred(qid, windows, saliency=None):
    item = dict(qid=qid, query="q", vid=f"v{qid}", pred_relevant_windows=windows)
    if saliency is not None:
        item["pred_saliency_scores"] = saliency
    return item


def test_r1_takes_the_first_window_against_its_best_ground_truth_and_r5_the_best_pair():
    ground_truth = [gt(1, [[0, 10], [20, 30]]), gt(2, [[10, 20]])]
    submission = [pred(1, [[22, 30, 0.9], [0, 10, 0.5]]), pred(2, [[15, 25, 0.8], [10, 20, 0.7]])]
    brief = eval_submission(submission, ground_truth)["brief"]
    # q1: [22, 30] vs [20, 30] -> IoU 0.8; q2: [15, 25] vs [10, 20] -> 5 / 15
    assert brief["MR-full-R1@0.3-key"] == 100.0
    assert brief["MR-full-R1@0.5-key"] == 50.0 and brief["MR-full-R1@0.7-key"] == 50.0
    assert brief["MR-full-mIoU-key"] == 56.67  # (0.8 + 0.3333) / 2
    assert brief["MR-full-R5@0.7-key"] == 100.0  # both have an exact window among their first 5
    assert list(brief) == BRIEF_KEYS[:16]  # no saliency anywhere: MR keys only (Charades-STA)


def test_map_truncates_in_file_order_then_sorts_stably_by_score():
    ground_truth = [gt(1, [[0, 10]])]
    # one false positive scored above the match: precision 0 then 1/2 at recall 1 -> AP 0.5 at every threshold
    assert eval_submission([pred(1, [[0, 10, 0.5], [20, 30, 0.9]])], ground_truth)["brief"]["MR-full-mAP-key"] == 50.0
    # equal scores keep the file order
    assert eval_submission([pred(1, [[20, 30, 0.5], [0, 10, 0.5]])], ground_truth)["brief"]["MR-full-mAP-key"] == 50.0
    assert eval_submission([pred(1, [[0, 10, 0.5], [20, 30, 0.5]])], ground_truth)["brief"]["MR-full-mAP-key"] == 100.0
    # the 11th window is cut before sorting, however high its score
    misses = [[40 + 5 * i, 44 + 5 * i, 0.1] for i in range(10)]
    assert eval_submission([pred(1, misses + [[0, 10, 0.99]])], ground_truth)["brief"]["MR-full-mAP-key"] == 0.0
    assert eval_submission([pred(1, [[0, 10, 0.99]] + misses)], ground_truth)["brief"]["MR-full-mAP-key"] == 100.0


def test_map_thresholds_and_average():
    # IoU 0.8 with the only window: a hit at thresholds 0.5 .. 0.8 (7 of 10), average 70
    metrics = eval_submission([pred(1, [[0, 8, 0.9]])], [gt(1, [[0, 10]])])
    assert metrics["full"]["MR-mAP"]["0.8"] == 100.0 and metrics["full"]["MR-mAP"]["0.85"] == 0.0
    assert metrics["brief"]["MR-full-mAP-key"] == 70.0


def test_length_ranges_are_half_open_and_empty_ranges_fall_back_to_the_full_set():
    ground_truth = [gt(1, [[0, 10]]), gt(2, [[0, 30]])]  # 10 s is short, 30 s is middle: (min, max]
    submission = [pred(1, [[0, 10, 0.9]]), pred(2, [[50, 60, 0.9]])]
    brief = eval_submission(submission, ground_truth)["brief"]
    assert brief["MR-short-mAP"] == 100.0 and brief["MR-middle-mAP"] == 0.0
    assert brief["MR-long-mAP"] == brief["MR-full-mAP-key"] == 50.0  # no window over 30 s: the full set
    assert brief["MR-long-mIoU"] == brief["MR-full-mIoU-key"]


def test_highlight_ap_is_sklearns_curve_averaged_over_recall_levels():
    y_true, y_score = np.array([1.0, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1])
    precision, recall = precision_recall_curve(y_true, y_score)
    assert precision.tolist() == pytest.approx([0.5, 2 / 3, 0.5, 1.0, 1.0])
    assert recall.tolist() == [1.0, 1.0, 0.5, 0.5, 0.0]
    assert highlight_ap(y_true, y_score) == pytest.approx((2 / 3 + 1) / 2)
    assert highlight_ap(y_true, np.array([0.5, 0.5, 0.5, 0.1])) == pytest.approx(2 / 3)  # one tie group
    assert highlight_ap(np.zeros(4), y_score) == 0.0 and highlight_ap(np.ones(4), y_score) == 1.0


def test_highlight_metrics_pad_truncate_and_take_the_argmax_over_the_whole_list():
    # 4 clips of 2 s; VeryGood (>= 4): annotator 0 -> [1, 0, 1, 0], annotator 1 -> [1, 0, 0, 0], annotator 2 none
    ground_truth = [gt(1, [[0, 6]], duration=8, clip_ids=[0, 2], scores=[[4, 4, 0], [4, 2, 0]])]
    brief = eval_submission([pred(1, [[0, 6, 1.0]], [0.9, 0.8, 0.7, 0.1])], ground_truth)["brief"]
    assert list(brief) == BRIEF_KEYS
    assert brief["HL-min-VeryGood-mAP-key"] == 61.11  # (0.8333 + 1 + 0) / 3: no positive clip -> AP 0, counted
    assert brief["HL-min-VeryGood-Hit1-key"] == 100.0
    # a 5th score past the video's end holds the maximum: Hit@1 misses; the AP uses the first 4 scores only
    brief = eval_submission([pred(1, [[0, 6, 1.0]], [0.9, 0.8, 0.7, 0.1, 5.0])], ground_truth)["brief"]
    assert brief["HL-min-VeryGood-Hit1-key"] == 0.0 and brief["HL-min-VeryGood-mAP-key"] == 61.11
    # too few scores are zero-padded: annotator 0's clip 2 ties with clip 3 at 0 -> AP (0.5 + 1) / 2
    brief = eval_submission([pred(1, [[0, 6, 1.0]], [0.9, 0.8])], ground_truth)["brief"]
    assert brief["HL-min-VeryGood-mAP-key"] == 58.33 and brief["HL-min-Fair-Hit1"] == 100.0


def test_query_sets_must_match_unless_asked_otherwise():
    ground_truth = [gt(1, [[0, 10]]), gt(2, [[0, 10]])]
    with pytest.raises(ValueError, match=r"differ: 1 without prediction \(e.g. \[2\]\)"):
        eval_submission([pred(1, [[0, 10, 1.0]])], ground_truth)
    shared = eval_submission([pred(1, [[0, 10, 1.0]])], ground_truth, match_number=False)
    assert shared["brief"]["MR-full-mAP-key"] == 100


@pytest.mark.parametrize("submission, message", [
    ([pred(1, [[0, 10, 1.0]]), pred(1, [[0, 10, 1.0]])], "qid 1 appears more than once"),
    ([pred(1, [])], "non-empty list of"),
    ([pred(1, [[0, 10, float("nan")]])], "non-empty list of"),
    ([pred(1, [[0, 10]])], r"\[start, end, score\]"),
])
def test_malformed_submissions_are_errors(submission, message):
    with pytest.raises(ValueError, match=message):
        eval_submission(submission, [gt(1, [[0, 10]])])


def test_malformed_ground_truth_is_an_error():
    with pytest.raises(ValueError, match="relevant_clip_ids"):
        eval_submission([pred(1, [[0, 10, 1.0]], [1.0])],
                        [gt(1, [[0, 10]], duration=10, clip_ids=[5], scores=[[1, 1, 1]])])
    with pytest.raises(ValueError, match="some queries have 'saliency_scores'"):
        eval_submission([pred(1, [[0, 1, 1.0]]), pred(2, [[0, 1, 1.0]])],
                        [gt(1, [[0, 10]], clip_ids=[0], scores=[[1, 1, 1]]), gt(2, [[0, 10]])])


def test_temporal_nms_uses_upstreams_overlap_and_keeps_the_last_candidate():
    windows = [[0, 10, 0.9], [1, 10, 0.8], [20, 30, 0.7], [0, 12, 0.6], [40, 50, 0.5]]
    # [1, 10] and [0, 12] overlap [0, 10] by 0.9 and 10 / 12 > 0.7: dropped
    assert temporal_nms(windows, 0.7, 10) == [[0, 10, 0.9], [20, 30, 0.7], [40, 50, 0.5]]
    assert temporal_nms(windows, 0.7, 2) == [[0, 10, 0.9], [20, 30, 0.7]]
    # disjoint windows: upstream's "union" max(end) - min(start) makes the overlap 0, whatever the gap
    assert temporal_nms([[0, 1, 0.9], [2, 3, 0.8]], 0.0, 10) == [[0, 1, 0.9], [2, 3, 0.8]]


def test_cli_prints_the_brief_dict_last_and_refuses_mismatched_queries(tmp_path, capsys):
    gt_file, sub_file = tmp_path / "gt.jsonl", tmp_path / "sub.jsonl"
    ground_truth = [gt(1, [[0, 6]], duration=8, clip_ids=[0, 2], scores=[[4, 4, 0], [4, 2, 0]]),
                    gt(2, [[0, 10]], 20, [0], [[2, 2, 2]])]
    submission = [pred(1, [[0, 6, 1.0]], [0.9, 0.8, 0.7, 0.1]), pred(2, [[0, 8, 0.9]], [1.0] * 10)]
    gt_file.write_text("".join(json.dumps(d) + "\n" for d in ground_truth))
    sub_file.write_text("".join(json.dumps(d) + "\n" for d in submission))
    evaluate_main(["--submission", str(sub_file), "--ground-truth", str(gt_file), "--out", str(tmp_path / "all.json")])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == dict(eval_submission(submission, ground_truth)["brief"]) and list(printed) == BRIEF_KEYS
    assert json.loads((tmp_path / "all.json").read_text())["brief"] == printed

    sub_file.write_text(json.dumps(submission[0]) + "\n")
    with pytest.raises(SystemExit, match="differ"):
        evaluate_main(["--submission", str(sub_file), "--ground-truth", str(gt_file)])
    evaluate_main(["--submission", str(sub_file), "--ground-truth", str(gt_file), "--allow-mismatched-queries"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["HL-min-VeryGood-mAP-key"] == 61.11


# --- the toy set (tools/make_toy_data.py univtg_mamba) and mutations of its submission / ground truth ---------

@pytest.fixture(scope="module")
def toy_val(tmp_path_factory):
    """The toy validation metadata and the perfect submission for it (its own windows, its own saliency)."""
    from univtg_mamba import TASK
    root = tmp_path_factory.mktemp("toy") / "univtg_mamba"
    TASK.make_toy_data(str(root), seed=0)
    ground_truth = root / "metadata" / "qvhighlights_val.jsonl"
    lines = [json.loads(line) for line in ground_truth.read_text().splitlines()]
    perfect = []
    for d in lines:
        saliency = np.zeros(int(d["duration"] // 2))
        saliency[d["relevant_clip_ids"]] = np.mean(d["saliency_scores"], axis=1)
        perfect.append(pred(d["qid"], [w + [1.0] for w in d["relevant_windows"]], saliency.tolist()))
    return ground_truth, perfect


def score(tmp_path, ground_truth, submission, capsys):
    path = tmp_path / "submission.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in submission))
    capsys.readouterr()
    evaluate_main(["--submission", str(path), "--ground-truth", str(ground_truth)])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_reversed_predicted_windows_are_an_error_not_a_perfect_match(toy_val, tmp_path, capsys):
    ground_truth, perfect = toy_val
    assert score(tmp_path, ground_truth, perfect, capsys)["MR-full-mAP-key"] == 100.0
    # a reversed window [end, start] has union 0 - 0 under upstream's IoU: NaN, which the matching took for a hit
    reversed_ = [dict(d, pred_relevant_windows=[[e, s, c] for s, e, c in d["pred_relevant_windows"]])
                 for d in perfect]
    qid = reversed_[0]["qid"]
    with pytest.raises(SystemExit, match=rf"submission.jsonl: qid {qid}: 'pred_relevant_windows' entry( 0)?: end "
                                         r"[\d.]+ is before start [\d.]+"):
        score(tmp_path, ground_truth, reversed_, capsys)


def test_validation_windows_past_the_duration_are_an_error_in_the_cli_and_the_metric(toy_val, tmp_path, capsys):
    from univtg_mamba.metrics import MomentRetrievalMetric
    ground_truth, perfect = toy_val
    lines = [json.loads(line) for line in ground_truth.read_text().splitlines()]
    lines[0]["relevant_windows"][-1][1] = lines[0]["duration"] + 30
    bad = tmp_path / "qvhighlights_val.jsonl"
    bad.write_text("".join(json.dumps(d) + "\n" for d in lines))
    message = rf"{bad}: qid {lines[0]['qid']}: 'relevant_windows' entry( \d)? \[.*\] ends after the video's duration"
    with pytest.raises(SystemExit, match=message):
        score(tmp_path, bad, perfect, capsys)
    metric = MomentRetrievalMetric()
    metric.dataset_meta = dict(ann_file=str(bad))
    with pytest.raises(ValueError, match=message):
        metric.compute_metrics([dict(d, duration=1.0) for d in perfect])
