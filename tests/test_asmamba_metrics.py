"""asmamba.metrics / asmamba.evaluate against hand-worked cases of MS-TCN / ASFormer eval.py."""
import json
import math

import numpy as np
import pytest

from asmamba.evaluate import main as evaluate_main
from asmamba.metrics import (PREDICTION_HEADER, edit_score, f_score_counts, read_prediction, segments,
                             summarize, upsample, video_stats, write_prediction)


def frames(*runs):
    """frames(("a", 2), ("b", 3)) -> ["a", "a", "b", "b", "b"]"""
    return [label for label, n in runs for _ in range(n)]


# --- segments -------------------------------------------------------------------------------------

def test_final_segment_ends_at_len_minus_one():
    # ends are exclusive change points, except the last segment's: len - 1, not len
    assert segments(frames(("a", 2), ("b", 2))) == (["a", "b"], [0, 2], [2, 3])


def test_only_literal_background_is_excluded():
    labels = frames(("background", 1), ("a", 2), ("background", 1), ("SIL", 2))
    assert segments(labels) == (["a", "SIL"], [1, 4], [3, 5])
    sil = frames(("SIL", 2), ("action_start", 1), ("action_end", 1))
    assert segments(sil)[0] == ["SIL", "action_start", "action_end"]


def test_trailing_background_and_single_frame_tail():
    assert segments(frames(("a", 3), ("background", 2))) == (["a"], [0], [3])
    # a one-frame last segment has zero length: start = end = len - 1
    assert segments(frames(("a", 3), ("b", 1))) == (["a", "b"], [0, 3], [3, 3])


# --- edit --------------------------------------------------------------------------------------------

def test_edit_score_hand_worked():
    pred = frames(("a", 2), ("b", 2), ("c", 2))
    gt = frames(("a", 3), ("c", 3))
    # segment sequences [a, b, c] vs [a, c]: one deletion, longest 3 -> (1 - 1/3) * 100
    assert edit_score(pred, gt) == pytest.approx(200 / 3)
    # background does not count as a segment: [a, c] vs [a, c]
    assert edit_score(frames(("a", 2), ("background", 2), ("c", 2)), gt) == 100


def test_edit_score_nan_when_neither_has_segments():
    assert math.isnan(edit_score(["background"] * 3, ["background"] * 3))


# --- F1 ----------------------------------------------------------------------------------------------

def test_f1_counts_hand_worked():
    gt = frames(("a", 4), ("b", 4))  # a [0, 4), b [4, 7]
    pred = frames(("a", 1), ("b", 7))  # a [0, 1), b [1, 7]
    # IoU(a) = 1 / 4 = 0.25; IoU(b) = (7 - 4) / (7 - 1) = 0.5
    assert f_score_counts(pred, gt, 0.10) == (2, 0, 0)
    assert f_score_counts(pred, gt, 0.25) == (2, 0, 0)  # >= threshold counts
    assert f_score_counts(pred, gt, 0.50) == (1, 1, 1)


def test_f1_final_segment_quirk_changes_the_match():
    gt = frames(("a", 2), ("b", 2))  # a [0, 2), b [2, 3]
    pred = frames(("a", 3), ("b", 1))  # a [0, 3), b [3, 3]: zero length, IoU 0 (with end = len it would be 0.5)
    assert f_score_counts(pred, gt, 0.5) == (1, 1, 1)


def test_f1_a_ground_truth_segment_is_hit_once():
    gt = frames(("a", 6))
    pred = frames(("a", 3), ("background", 1), ("a", 2))  # two predictions overlap the same segment
    assert f_score_counts(pred, gt, 0.1) == (1, 1, 0)


def test_f1_without_ground_truth_segments_counts_false_positives():
    assert f_score_counts(frames(("a", 2), ("b", 2)), ["background"] * 4, 0.1) == (0, 2, 0)
    assert f_score_counts(["background"] * 4, frames(("a", 4)), 0.1) == (0, 0, 1)


# --- pooling over videos -----------------------------------------------------------------------------

def test_summarize_pools_frames_and_f1_counts_and_averages_edit():
    v1 = video_stats(frames(("a", 4)), frames(("a", 4)))  # perfect: 4/4, tp 1, edit 100
    v2 = video_stats(frames(("b", 2), ("c", 2), ("d", 2), ("e", 2)), frames(("a", 8)))  # 0/8, fp 4, fn 1, edit 0
    scores = summarize([v1, v2])
    assert scores["acc"] == pytest.approx(100 * 4 / 12)  # pooled frames, not (100 + 0) / 2
    assert scores["edit"] == pytest.approx(50)  # mean of per-video edit scores
    # summed counts: tp 1, fp 4, fn 1 -> P 0.2, R 0.5, F1 = 2 * 0.1 / 0.7 (per-video mean would be 50)
    for key in ("f1@10", "f1@25", "f1@50"):
        assert scores[key] == pytest.approx(100 * 0.2 / 0.7)
    assert list(scores) == ["acc", "edit", "f1@10", "f1@25", "f1@50"]


def test_summarize_f1_nan_becomes_zero():
    scores = summarize([video_stats(["background"] * 3, ["background"] * 3)])
    assert scores["f1@50"] == 0 and scores["acc"] == 100 and math.isnan(scores["edit"])


def test_longer_prediction_scores_accuracy_on_ground_truth_frames_only():
    gt = frames(("a", 3))
    pred = frames(("a", 3), ("b", 1))  # sample_rate repetition can overshoot the ground truth
    stats = video_stats(pred, gt)
    assert (stats.correct, stats.total) == (3, 3)
    assert list(stats.fp) == [1, 1, 1]  # but the extra frames still form segments, as upstream


def test_short_prediction_is_an_error_naming_the_file():
    with pytest.raises(ValueError, match="pred/v1: 2 predicted labels for 3"):
        video_stats(["a", "a"], ["a"] * 3, source="pred/v1")


# --- against a plain transcription of the protocol on random sequences ------------------------------

def reference_segments(labels, bg=("background",)):
    out_labels, starts, ends = [], [], []
    last = labels[0]
    if last not in bg:
        out_labels.append(last)
        starts.append(0)
    for i in range(len(labels)):
        if labels[i] != last:
            if labels[i] not in bg:
                out_labels.append(labels[i])
                starts.append(i)
            if last not in bg:
                ends.append(i)
            last = labels[i]
    if last not in bg:
        ends.append(len(labels) - 1)
    return out_labels, starts, ends


def reference_edit(p, y):
    d = np.zeros((len(p) + 1, len(y) + 1))
    d[:, 0], d[0, :] = np.arange(len(p) + 1), np.arange(len(y) + 1)
    for j in range(1, len(y) + 1):
        for i in range(1, len(p) + 1):
            d[i, j] = d[i - 1, j - 1] if y[j - 1] == p[i - 1] else 1 + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return (1 - d[-1, -1] / max(len(p), len(y))) * 100


def reference_f_score(pred, gt, overlap, bg=("background",)):
    """eval.py's f_score as written upstream: hull union, negative IoU for disjoint segments, NaN for 0 / 0."""
    p_label, p_start, p_end = reference_segments(pred, bg)
    y_label, y_start, y_end = (np.array(v) for v in reference_segments(gt, bg))
    tp, fp, hits = 0, 0, np.zeros(len(y_label))
    for j in range(len(p_label)):
        intersection = np.minimum(p_end[j], y_end) - np.maximum(p_start[j], y_start)
        union = np.maximum(p_end[j], y_end) - np.minimum(p_start[j], y_start)
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = (1.0 * intersection / union) * np.array([p_label[j] == y for y in y_label])
        idx = np.array(iou).argmax()
        if iou[idx] >= overlap and not hits[idx]:
            tp += 1
            hits[idx] = 1
        else:
            fp += 1
    return tp, fp, len(y_label) - int(hits.sum())


def test_matches_reference_transcription_on_random_sequences():
    rng = np.random.default_rng(0)
    names = np.array(["a", "b", "c", "background"])
    for _ in range(40):
        n = int(rng.integers(5, 60))
        gt = names[rng.integers(0, 4, size=n).repeat(rng.integers(1, 6, size=n))].tolist()
        pred = names[rng.integers(0, 4, size=n).repeat(rng.integers(1, 6, size=n))].tolist()
        assert segments(gt) == reference_segments(gt)
        p, y = reference_segments(pred)[0], reference_segments(gt)[0]
        if p or y:
            assert edit_score(pred, gt) == pytest.approx(reference_edit(p, y))
        if y:  # upstream crashes without a ground-truth segment
            for overlap in (0.1, 0.25, 0.5):
                assert f_score_counts(pred, gt, overlap) == reference_f_score(pred, gt, overlap)


# --- prediction files and the CLI --------------------------------------------------------------------

def test_prediction_file_round_trip_and_upstream_format(tmp_path):
    path = tmp_path / "vid"
    labels = upsample(np.array([0, 1, 1]), ["x", "y"], sample_rate=2, min_len=5)
    assert labels == ["x", "x", "y", "y", "y", "y"]  # repeated sample_rate times, as upstream writes
    write_prediction(str(path), labels)
    assert path.read_text() == PREDICTION_HEADER + "\nx x y y y y"
    assert read_prediction(str(path)) == labels
    # features one frame short of the labels: the last label is repeated up to the label count
    assert upsample(np.array([0, 1]), ["x", "y"], 1, 3) == ["x", "y", "y"]


def test_bad_prediction_file(tmp_path):
    (tmp_path / "v").write_text("x x y\n")
    with pytest.raises(ValueError, match="v: expected '### Frame level recognition: ###'"):
        read_prediction(str(tmp_path / "v"))
    with pytest.raises(FileNotFoundError, match="prediction file missing"):
        read_prediction(str(tmp_path / "missing"))


def write_split(root, split, videos):
    """videos: {name: (gt labels, predicted labels)}; predictions go to root/preds/split_<split>/."""
    (root / "groundTruth").mkdir(exist_ok=True)
    (root / "splits").mkdir(exist_ok=True)
    (root / "mapping.txt").write_text("0 a\n1 b\n2 background\n")
    pred_dir = root / "preds" / f"split_{split}"
    pred_dir.mkdir(parents=True)
    (root / "splits" / f"test.split{split}.bundle").write_text("".join(f"{v}.txt\n" for v in videos))
    for name, (gt, pred) in videos.items():
        (root / "groundTruth" / f"{name}.txt").write_text("".join(f"{label}\n" for label in gt))
        write_prediction(str(pred_dir / name), pred)
    return pred_dir


def test_cli_prints_json_last_and_averages_splits(tmp_path, capsys):
    split1 = write_split(tmp_path, 1, {"v1": (frames(("a", 4)), frames(("a", 4))),
                                       "v2": (frames(("a", 4)), frames(("b", 4)))})
    write_split(tmp_path, 2, {"v3": (frames(("a", 2), ("b", 2)), frames(("a", 2), ("b", 2)))})

    evaluate_main(["--data-root", str(tmp_path), "--split", "1", "--pred-dir", str(split1)])
    one = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert one == pytest.approx({"acc": 50.0, "edit": 50.0, "f1@10": 50.0, "f1@25": 50.0, "f1@50": 50.0})

    evaluate_main(["--data-root", str(tmp_path), "--split", "0", "--pred-dir", str(tmp_path / "preds")])
    both = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert both == pytest.approx({k: (v + 100) / 2 for k, v in one.items()})  # unweighted split mean


def test_cli_refuses_unknown_labels_duplicate_videos_and_warns_about_other_files(tmp_path, capsys):
    pred_dir = write_split(tmp_path, 1, {"v1": (frames(("a", 4)), frames(("a", 2), ("c", 2)))})
    with pytest.raises(SystemExit, match=r"split_1/v1: labels not in .*mapping.txt: \['c'\]"):
        evaluate_main(["--data-root", str(tmp_path), "--split", "1", "--pred-dir", str(pred_dir)])
    write_prediction(str(pred_dir / "v1"), frames(("a", 4)))
    write_prediction(str(pred_dir / "v9"), frames(("a", 4)))
    with pytest.warns(UserWarning, match=r"1 file\(s\) of videos outside test split 1, not scored: \['v9'\]"):
        evaluate_main(["--data-root", str(tmp_path), "--split", "1", "--pred-dir", str(pred_dir)])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["acc"] == 100.0
    (tmp_path / "splits" / "test.split1.bundle").write_text("v1.txt\nv1.txt\n")
    with pytest.raises(SystemExit, match=r"test.split1.bundle: videos listed more than once: \['v1'\]"):
        evaluate_main(["--data-root", str(tmp_path), "--split", "1", "--pred-dir", str(pred_dir)])
    (tmp_path / "splits" / "test.split1.bundle").write_text("\n")
    with pytest.raises(SystemExit, match="split bundle lists no videos"):
        evaluate_main(["--data-root", str(tmp_path), "--split", "1", "--pred-dir", str(pred_dir)])


@pytest.fixture(scope="module")
def toy_with_predictions(tmp_path_factory):
    """The toy data set (tools/make_toy_data.py asmamba) with every split's ground truth as its predictions."""
    from asmamba.toy import make_toy_data
    root = tmp_path_factory.mktemp("toy") / "asmamba"
    make_toy_data(str(root), seed=0)
    for split in range(1, 5):
        pred_dir = root / "preds" / f"split_{split}"
        pred_dir.mkdir(parents=True)
        for line in (root / "splits" / f"test.split{split}.bundle").read_text().split():
            video = line[:-len(".txt")]
            write_prediction(str(pred_dir / video), (root / "groundTruth" / line).read_text().split())
    return root


@pytest.mark.parametrize("split", ["-1", "5"])
def test_a_split_that_does_not_exist_is_an_error_not_the_mean_of_all(toy_with_predictions, split, capsys):
    root = toy_with_predictions
    evaluate_main(["--data-root", str(root), "--split", "0", "--pred-dir", str(root / "preds")])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["acc"] == 100.0
    with pytest.raises(SystemExit, match=rf"splits: split {split} does not exist; expected 0 \(all splits\) or "
                                         r"one of \[1, 2, 3, 4\]"):
        evaluate_main(["--data-root", str(root), "--split", split, "--pred-dir", str(root / "preds")])


def test_mean_of_metrics_files_refuses_a_file_twice_and_files_without_metrics(tmp_path, capsys):
    one, two = tmp_path / "1.json", tmp_path / "2.json"
    one.write_text(json.dumps({"acc": 50.0, "edit": 40.0}))
    two.write_text(json.dumps({"acc": 70.0, "edit": 60.0, "epoch": 3}))
    evaluate_main(["--mean", str(one), str(two)])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"acc": 60.0, "edit": 50.0}
    with pytest.raises(SystemExit, match=r"given more than once .*1\.json"):
        evaluate_main(["--mean", str(one), str(two), str(one)])
    two.write_text(json.dumps({"epoch": 3}))
    with pytest.raises(SystemExit, match=r"1\.json: no metric"):
        evaluate_main(["--mean", str(one), str(two)])
    two.write_text('{"acc": NaN, "edit": 1.0}')
    with pytest.raises(SystemExit, match=r"2\.json: .*NaN"):
        evaluate_main(["--mean", str(one), str(two)])
