"""PDVC's evaluation on hand-worked cases: joint ranking, IoUs, SODA's assignment, detection recall and
precision, the language scores (pycocoevalcap, Java), the CLI and its errors."""
import json
import math

import numpy as np
import pytest

from common.segments import segment_iou
from pdvc_mamba import metrics as M
from pdvc_mamba.evaluate import main as evaluate_main

SENTENCE = "a man slices bread"
REF_1 = {"v_a": {"duration": 10.0, "timestamps": [[0, 4], [5, 9]], "sentences": [SENTENCE, "the dog runs home"]},
         "v_b": {"duration": 10.0, "timestamps": [[1, 3]], "sentences": ["a cat sleeps well"]}}
REF_2 = {"v_a": {"duration": 10.0, "timestamps": [[0, 5]], "sentences": [SENTENCE]}}  # IoU 0.8 with [0, 4]
PARAS = {"v_a": "A man slices bread. The dog runs home.", "v_b": "A cat sleeps well."}
RANKED = {"v_a": [{"timestamp": [0, 4], "sentence": SENTENCE}]}


def entry(start, end, sentence, proposal, caption, count=1):
    return dict(timestamp=[start, end], sentence=sentence, proposal_score=proposal, sentence_score=caption,
                pred_event_count=count)


def test_joint_ranking_keeps_the_counted_best_in_time_order():
    raw = {"v": [entry(5, 9, "w w", 0.5, -1.0, 2), entry(0, 4, "w w w w", 0.4, -1.0), entry(2, 3, "", 0.45, 0.0, 2)]}
    ranked = M.rerank(raw, alpha=1.0)["v"]
    # joint: 0.5 - 1 / 4.00001, 0.4 - 1 / 16.00001, 0.45 + 0 / 1e-5; the best entry's count (2) decides
    assert [p["timestamp"] for p in ranked] == [[0, 4], [2, 3]]
    assert ranked[0]["joint_score"] == pytest.approx(0.4 - 1 / (16 + 1e-5))
    assert [p["timestamp"] for p in M.rerank(raw, alpha=0.0)["v"]] == [[2, 3], [5, 9]]


def test_ious_as_evaluate2018_and_soda():
    iou = segment_iou([[0, 4], [0, 4], [3, 3]], [[0, 5], [6, 9], [3, 3]], M.IOU_EPS)
    assert iou[0, 0] == 4 / (5 + 1e-8) and iou[1, 1] == 0 and iou[2, 2] == 0


def test_soda_assignment_keeps_order():
    assert M.soda_dp(np.array([[0.5, 0.9], [0.8, 0.1]])) == pytest.approx(0.9)  # crossing pairs are not allowed
    assert M.soda_dp(np.array([[0.5, 0.2], [0.3, 0.7]])) == pytest.approx(1.2)
    assert M.soda_dp(np.array([[0.2], [0.6], [0.1]])) == pytest.approx(0.6)


def test_detection_recall_and_precision_by_hand():
    scores = M.DenseEval(RANKED, [REF_1, REF_2]).detection()
    # v_a: val_1 covers 1 of 2 events, val_2 1 of 1 while IoU 0.8 > tIoU; v_b has no prediction (0)
    assert scores["Recall"] == pytest.approx([0.5, 0.5, 0.5, 0.25])
    assert scores["Precision"] == pytest.approx([0.5] * 4)


def test_predictions_are_validated():
    with pytest.raises(ValueError, match="x: expected {'results'"):
        M.validate_predictions({"res": {}}, "x")
    with pytest.raises(ValueError, match="video 'v': expected a non-empty list"):
        M.validate_predictions({"results": {"v": []}}, "x")
    with pytest.raises(ValueError, match="prediction 0: expected 'timestamp'"):
        M.validate_predictions({"results": {"v": [{"timestamp": [0, float("nan")], "sentence": ""}]}}, "x")
    with pytest.raises(ValueError, match="control character"):
        M.validate_predictions({"results": {"v": [{"timestamp": [0, 1], "sentence": "a\rb"}]}}, "x")
    with pytest.raises(ValueError, match="pred_event_count"):
        M.validate_predictions({"results": {"v": [entry(0, 1, "a", 1, 0, count=0)]}}, "x", for_rerank=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    paths = {}
    for name, data in (("val_1", REF_1), ("val_2", REF_2), ("para", PARAS)):
        paths[name] = str(root / f"{name}.json")
        with open(paths[name], "w") as f:
            json.dump(data, f)
    raw = {"results": {"v_a": [entry(0, 4, SENTENCE, 0.9, -1.0), entry(5, 9, "a cat sleeps", 0.5, -0.1)]},
           "version": "VERSION 1.0", "external_data": {}}
    paths["raw"] = str(root / "raw.json")
    with open(paths["raw"], "w") as f:
        json.dump(raw, f)
    return paths


@pytest.fixture(scope="module")
def scores(files):
    references = M.load_references([files["val_1"], files["val_2"]])
    return M.eval_metrics(RANKED, references, M.load_paragraphs([files["para"]]))


def test_keys_and_hand_worked_scores(scores):
    assert list(scores) == [*M.LANGUAGE_METRICS, "Recall", "Precision", "soda_c"] + [
        f"para_{k}" for k in M.LANGUAGE_METRICS]
    # v_a's pairs (one per reference file while IoU >= tIoU) repeat the perfect sentence; v_b has none (0)
    for k in ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L"):
        assert scores[k] == pytest.approx(0.5, abs=1e-6)
    assert scores["CIDEr"] == 0  # CIDEr-D's IDF comes from the video's own references: every n-gram in all
    assert scores["Recall"] == pytest.approx(0.4375) and scores["Precision"] == pytest.approx(0.5)
    assert scores["METEOR"] == 0.5  # METEOR 1.5 gives an exact match 1
    # SODA_c: val_1 F1 of P = 1, R = 1 / 2; val_2 IoU 0.8 x 1; averaged over the two files
    assert scores["soda_c"] == pytest.approx((2 / 3 + 0.8) / 2, rel=1e-6)
    # paragraphs: 4 of 4 words right for v_a, nothing for v_b; brevity penalty exp(1 - 12 / 4)
    for n in range(1, 5):
        assert scores[f"para_Bleu_{n}"] == pytest.approx(math.exp(-2), rel=1e-6)
    f_rouge = (1 + 1.2 ** 2) * 0.5 / (0.5 + 1.2 ** 2)  # LCS 4: precision 1, recall 4 / 8, beta 1.2
    assert scores["para_ROUGE_L"] == pytest.approx(f_rouge / 2)


def test_cli_ranks_raw_predictions_and_prints_the_same(files, scores, capsys):
    args = ["--predictions", files["raw"], "--references", files["val_1"], files["val_2"],
            "--para-references", files["para"]]
    with pytest.raises(SystemExit, match="pass --alpha"):
        evaluate_main(args)
    capsys.readouterr()
    evaluate_main(args + ["--alpha", "1.0"])  # joint ranking keeps the perfect prediction (count 1)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == scores


def test_cli_names_a_missing_java(files, monkeypatch, tmp_path):
    monkeypatch.setattr(M, "_shared", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit, match="no `java` is on PATH: install a Java runtime"):
        evaluate_main(["--predictions", files["raw"], "--references", files["val_1"], "--alpha", "1"])


def test_cli_input_errors(files, tmp_path):
    with pytest.raises(SystemExit, match="results file not found: .*nothing.json"):
        evaluate_main(["--predictions", str(tmp_path / "nothing.json"), "--references", files["val_1"]])
    bad = tmp_path / "bad_ref.json"
    bad.write_text(json.dumps({"v_a": {"duration": 5, "timestamps": [[3, 1]], "sentences": ["x"]}}))
    with pytest.raises(SystemExit, match="bad_ref.json: video 'v_a': timestamp: end 1 is before start 3"):
        evaluate_main(["--predictions", files["raw"], "--references", str(bad), "--no-rerank"])


def test_one_java_run_tokenises_each_batch_as_pycocoevalcap_does():
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    batches = [["A man, with a capital T.", "Next he's (quickly) cutting."], [], ["", "x", "the pi\u00f1ata"],
               ["with a capital T.", "and then"]]
    ours = M.shared_scorers().tokenize(batches)
    for batch, tokens in zip(batches, ours):
        expected = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(batch)}) if batch else {}
        assert tokens == [expected[i][0] for i in range(len(batch))]
