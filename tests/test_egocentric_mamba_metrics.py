"""egocentric_mamba's evaluation on hand-worked cases: EK100 MIR mAP / nDCG (AVION's, partial relevancies in the
precision, the documented tie rule), the similarity assembly and its errors, EK100 action top-k / mean class
accuracy / marginalised verb and noun top-1 (upstream's quirks), EgoSchema answers, submissions and accuracy,
and the engine metrics against `python -m egocentric_mamba.evaluate` on the files they write."""
import json
import pickle
from math import log2

import numpy as np
import pytest
import torch

from common.checks import InputError
from egocentric_mamba import metrics as M
from egocentric_mamba.annotations import ActionLabels
from egocentric_mamba.evaluate import main as evaluate_main


# ---------------------------------------------------------------------------------------------------------
# EK100 MIR

def test_map_counts_partial_relevancies_in_the_precision():
    # ranked (0.9, 0.5, 0.2) -> relevancies (0.5, 1, 1): P(2) = 1.5 / 2, P(3) = 2.5 / 3 (not 1 / 2 and 2 / 3)
    assert M.mean_average_precision(np.array([[0.2, 0.9, 0.5]]), np.array([[1, 0.5, 1]])) == pytest.approx(
        (1.5 / 2 + 2.5 / 3) / 2)
    # ranked (0.9, 0.8, 0.7, 0.1) -> (0, 0.5, 0, 1): one relevant item, P(4) = 1.5 / 4
    scores, relevancy = np.array([[0.1, 0.9, 0.8, 0.7]]), np.array([[1, 0, 0.5, 0]])
    assert M.mean_average_precision(scores, relevancy) == pytest.approx(0.375)


def test_ndcg_takes_as_many_ranks_as_non_zero_relevancies():
    assert M.mean_ndcg(np.array([[0.2, 0.9, 0.5]]), np.array([[1, 0.5, 1]])) == pytest.approx(
        (0.5 + 1 / log2(3) + 1 / 2) / (1 + 1 / log2(3) + 0.5 / 2))
    # two non-zero relevancies: the first two ranks (0.9 -> 0, 0.8 -> 0.5) count
    assert M.mean_ndcg(np.array([[0.1, 0.9, 0.8, 0.7]]), np.array([[1, 0, 0.5, 0]])) == pytest.approx(
        (0.5 / log2(3)) / (1 + 0.5 / log2(3)))


def test_tie_rule_map_in_column_order_ndcg_reversed():
    scores, relevancy = np.array([[0.5, 0.5, 0.2]]), np.array([[0, 1, 0]])
    assert M.mean_average_precision(scores, relevancy) == 0.5  # item 1 ranked after its tie, item 0
    assert M.mean_ndcg(scores, relevancy) == 1.0  # item 1 ranked before item 0
    tied = np.full((1, 4), 0.3)
    assert M.mean_average_precision(tied, np.array([[0, 0, 1, 1]])) == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert M.mean_ndcg(np.full((1, 4), 0.3), np.array([[0, 0, 0.5, 1]])) == 1.0  # reversed: 1 then 0.5, the ideal
    assert M.mean_ndcg(np.full((1, 4), 0.3), np.array([[0.5, 1, 0, 0]])) == pytest.approx(0)  # 0 then 0


def reference_ap(s, r):
    """From the definition, ties in increasing column order."""
    order = sorted(range(len(s)), key=lambda j: (-s[j], j))
    total = seen = hits = 0
    for k, j in enumerate(order, 1):
        seen += r[j]
        if r[j] == 1:
            total, hits = total + seen / k, hits + 1
    return total / hits


def reference_ndcg(s, r):
    """From the definition, ties in decreasing column order."""
    order = sorted(range(len(s)), key=lambda j: (-s[j], -j))
    k = sum(x > 0 for x in r)
    dcg = sum(r[j] / log2(i + 2) for i, j in enumerate(order[:k]))
    return dcg / sum(x / log2(i + 2) for i, x in enumerate(sorted(r, reverse=True)[:k]))


def test_mir_metrics_equal_a_direct_rederivation_with_many_ties(monkeypatch):
    rng = np.random.default_rng(0)
    monkeypatch.setattr(M, "ROW_CHUNK", 3)  # rows ranked a few at a time give the same numbers
    scores = rng.choice([0.1, 0.4, 0.7, 0.9], size=(11, 7))  # four values: ties everywhere
    relevancy = rng.choice([0, 0.25, 0.5, 1], size=(11, 7), p=[0.5, 0.2, 0.1, 0.2])
    relevancy[np.arange(11), rng.integers(0, 7, 11)] = 1
    relevancy[rng.integers(0, 11, 7), np.arange(7)] = 1
    out = M.mir_metrics(scores, relevancy)
    v2t = np.mean([reference_ap(s, r) for s, r in zip(scores, relevancy)])
    t2v = np.mean([reference_ap(s, r) for s, r in zip(scores.T, relevancy.T)])
    nv2t = np.mean([reference_ndcg(s, r) for s, r in zip(scores, relevancy)])
    nt2v = np.mean([reference_ndcg(s, r) for s, r in zip(scores.T, relevancy.T)])
    expected = [v2t, t2v, (v2t + t2v) / 2, nv2t, nt2v, (nv2t + nt2v) / 2]
    assert [out[k] for k in ("mAP_V2T", "mAP_T2V", "mAP_avg", "nDCG_V2T", "nDCG_T2V", "nDCG_avg")] == pytest.approx(
        [100 * e for e in expected], abs=1e-10)


def test_mir_metrics_two_directions_by_hand():
    scores, relevancy = np.array([[0.3, 0.9], [0.6, 0.8]]), np.array([[1, 0.5], [0, 1]])
    out = M.mir_metrics(scores, relevancy)
    ndcg_row0 = (0.5 + 1 / log2(3)) / (1 + 0.5 / log2(3))
    assert out == pytest.approx({"mAP_V2T": 100 * (0.75 + 1) / 2, "mAP_T2V": 100 * (0.5 + 0.75) / 2, "mAP_avg": 75.0,
                                 "nDCG_V2T": 100 * (ndcg_row0 + 1) / 2, "nDCG_T2V": 100 * (0 + ndcg_row0) / 2,
                                 "nDCG_avg": 100 * ((ndcg_row0 + 1) / 2 + ndcg_row0 / 2) / 2})


def test_mir_metrics_refuse_undefined_queries_and_bad_scores():
    with pytest.raises(InputError, match=r"rel.pkl: 1 clip \(row\)s have no item of relevancy 1, so no average "
                                         r"precision \(indices \[1\]\)"):
        M.mir_metrics(np.ones((2, 2)), np.array([[1, 1], [0.5, 0]]), "rel.pkl")
    with pytest.raises(InputError, match=r"rel.pkl: 1 sentence \(column\)s have no item of relevancy 1"):
        M.mir_metrics(np.ones((2, 2)), np.array([[1, 0], [1, 0.5]]), "rel.pkl")
    with pytest.raises(InputError, match="rel.pkl: similarities hold NaN or Inf"):
        M.mir_metrics(np.array([[np.nan, 1]]), np.array([[1, 1]]), "rel.pkl")


OFFICIAL = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
            "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes")


def write_mir_split(tmp_path, relevancy):
    """Clips c0..c3 (c2 repeats c0's caption), sentences (c1, c0, c3): the columns of clips 1, 0, 3."""
    rows = [f"c{i},P01,P01_1,00:00:00.000,00:00:0{i}.00,00:00:0{i}.50,0,0,cap{i % 2 if i < 3 else 3},v,0,n,0,[],[]"
            for i in range(4)]
    (tmp_path / "clips.csv").write_text("uid," + OFFICIAL + "\n" + "".join(f"{i},{r}\n" for i, r in enumerate(rows)))
    (tmp_path / "sentences.csv").write_text("index,sentence\nc1,cap1\nc0,cap0\nc3,cap3\n")
    (tmp_path / "rel.pkl").write_bytes(pickle.dumps(np.asarray(relevancy, dtype=np.float64)))
    return [str(tmp_path / n) for n in ("clips.csv", "sentences.csv", "rel.pkl")]


RELEVANCY = [[0, 1, 0], [1, 0, 0.5], [0, 1, 0], [0.5, 0, 1]]


def test_similarity_columns_are_each_sentences_first_clip(tmp_path):
    truth = M.MIRGroundTruth(*write_mir_split(tmp_path, RELEVANCY))
    assert truth.columns.tolist() == [1, 0, 3]
    rng = np.random.default_rng(1)
    video, text = rng.normal(size=(4, 8)).astype(np.float32), rng.normal(size=(4, 8)).astype(np.float32)
    expected = ((video @ text.T + 1) / 2)[:, [1, 0, 3]]
    assert np.allclose(M.mir_similarity(video, text, truth.columns), expected) and M.mir_similarity(
        video, text, truth.columns).dtype == np.float32
    shuffled = [2, 0, 3, 1]  # predictions in any order come back to the csv's
    assert truth.score_embeddings(video[shuffled], text[shuffled], [f"c{i}" for i in shuffled], "p") == truth.score(
        expected, "p")
    with pytest.raises(InputError, match=r"p: the clips must be those of .*clips.csv: 1 missing \(e.g. \['c3'\]\), "
                                         r"1 not in it \(e.g. \['x'\]\)"):
        truth.score_embeddings(video, text, ["c0", "c1", "c2", "x"], "p")
    with pytest.raises(InputError, match=r"p: a narration_id appears twice"):
        truth.order(["c0", "c1", "c2", "c2"], "p")
    with pytest.raises(InputError, match=r"s.npy: similarity matrix of shape \(4, 4\), expected clips x sentences"):
        truth.score(np.ones((4, 4)), "s.npy")


def test_ground_truth_files_must_fit_together(tmp_path):
    files = write_mir_split(tmp_path, np.ones((4, 2)))
    with pytest.raises(InputError, match=r"rel.pkl: relevancy matrix of shape \(4, 2\), but .*clips.csv lists 4 clips "
                                         r"and .*sentences.csv 3 sentences"):
        M.MIRGroundTruth(*files)
    (tmp_path / "sentences.csv").write_text("index,sentence\nc1,cap1\nzz,lost\nc3,cap3\n")
    with pytest.raises(InputError, match=r"sentences.csv: 1 sentence id\(s\) name no clip of .*clips.csv"):
        M.MIRGroundTruth(*files)


# ---------------------------------------------------------------------------------------------------------
# EK100 action recognition

def test_action_metrics_by_hand_with_marginalisation():
    actions = ActionLabels(["0:1", "0:10", "2:1"])  # verbs (0, 0, 2), nouns (1, 10, 1); verb 1, nouns 0, 2..9 unused
    assert [i.tolist() for i in M.marginal_indexes(actions.verbs)] == [[0, 1], [0], [2]]  # verb 1: action 0's
    assert [i.tolist() for i in M.marginal_indexes(actions.nouns)][:3] == [[0], [0, 2], [0]]
    probs = np.array([[0.5, 0.1, 0.4],   # label 2: action wrong; verbs (0.6, 0.5, 0.4) wrong; nouns n1 0.9 right
                      [0.2, 0.7, 0.1],   # label 1: all right
                      [0.1, 0.1, 0.8]])  # label 0: action wrong, verb 2 wrong; noun 1 right
    out = M.ek100_cls_metrics(np.log(probs), np.array([2, 1, 0]), actions)
    assert out == pytest.approx({"action_top1": 100 / 3, "action_top5": 100.0, "mean_class_acc": 100 / 3,
                                 "verb_top1": 100 / 3, "noun_top1": 100.0})


def test_unused_verb_ids_win_ties_with_action_0s_verb():
    """The only action is "1:0": verb 0, unused, scores action 0's probability like verb 1 and, the lower id, wins
    the argmax: upstream's verb top-1 is 0 here although every action is right."""
    out = M.ek100_cls_metrics(np.zeros((2, 1)), np.array([0, 0]), ActionLabels(["1:0"]))
    assert out["action_top1"] == 100 and out["verb_top1"] == 0 and out["noun_top1"] == 100


def test_sklearn_tie_rules_and_the_mean_class_accuracy_quirk():
    scores, labels = np.array([[0.2, 0.4, 0.4], [0.2, 0.4, 0.4]]), np.array([1, 2])
    assert M.top_k_accuracy(scores, labels, 1) == 0.5  # top_k_accuracy_score: the higher id first among ties
    assert M.mean_class_accuracy(labels, scores.argmax(axis=1)) == 0.5  # confusion of the argmax: the lower id
    # class 2 is predicted but never a label: it counts with accuracy 0 (sklearn's classes: labels and predictions)
    assert M.mean_class_accuracy(np.array([0, 0, 1]), np.array([0, 2, 1])) == pytest.approx((0.5 + 1 + 0) / 3)
    assert M.top_k_accuracy(scores, labels, 5) == 1.0  # k beyond the classes: every label is in


def test_action_metrics_check_their_input():
    actions = ActionLabels(["0:1", "0:2"])
    with pytest.raises(InputError, match=r"l.npz: expected size 2 along axis 1 of the logits"):
        M.ek100_cls_metrics(np.zeros((3, 3)), np.zeros(3, int), actions, "l.npz")
    with pytest.raises(InputError, match=r"l.npz: action label 2 outside the 2 classes"):
        M.ek100_cls_metrics(np.zeros((1, 2)), np.array([2]), actions, "l.npz")
    with pytest.raises(InputError, match=r"l.npz: logits hold NaN or Inf"):
        M.ek100_cls_metrics(np.array([[0, np.inf]]), np.array([0]), actions, "l.npz")


# ---------------------------------------------------------------------------------------------------------
# EgoSchema

def test_egoschema_answer_is_the_largest_cosine():
    video = np.array([[1.0, 0.0], [0.0, 3.0]])
    options = np.zeros((2, 5, 2))
    options[0] = [[0, 1], [5, 1], [1, 0], [-1, 0], [1, 1]]  # option 2 points exactly at the video
    options[1] = [[1, 1], [1, 1], [0, 0.1], [0, 7], [1, 0]]  # options 2 and 3 tie (cosine 1): the first wins
    assert M.egoschema_answers(video, options).tolist() == [2, 2]
    with pytest.raises(InputError, match="cosines"):
        M.egoschema_answers(video, np.zeros((2, 5, 2)))
    with pytest.raises(InputError, match=r"expected size 5 along axis 1 of the option embeddings"):
        M.egoschema_answers(video, np.ones((2, 4, 2)))


def test_submissions_in_both_formats_and_offline_accuracy(tmp_path):
    csv_path, json_path = str(tmp_path / "s.csv"), str(tmp_path / "s.json")
    M.write_submission(csv_path, json_path, ["q1", "q2", "q3"], np.array([0, 4, 2]))
    assert open(csv_path).read() == "q_uid,answer\nq1,0\nq2,4\nq3,2\n"
    assert json.load(open(json_path)) == {"q1": 0, "q2": 4, "q3": 2}
    assert M.read_submission(csv_path) == M.read_submission(json_path) == {"q1": 0, "q2": 4, "q3": 2}
    answers = {"q1": 0, "q2": 1}
    assert M.egoschema_accuracy(M.read_submission(csv_path), answers, ["q1", "q2", "q3", "q4"]) == {
        "accuracy": 50.0, "num_scored": 2.0}
    with pytest.raises(InputError, match=r"s.csv: 1 answer\(s\) for questions not in the questions file"):
        M.egoschema_accuracy(M.read_submission(csv_path), answers, ["q1", "q2"], csv_path)
    with pytest.raises(InputError, match=r"s.csv: 1 question\(s\) of answers.json not answered, e.g. \['q4'\]"):
        M.egoschema_accuracy(M.read_submission(csv_path), {"q4": 1}, ["q1", "q2", "q3", "q4"], csv_path, "answers.json")
    for text, error in (("q,answer\nq1,0\n", r"expected the header q_uid,answer"),
                        ("q_uid,answer\nq1,0\nq1,1\n", r"s.csv:3: q_uid 'q1' appears twice"),
                        ("q_uid,answer\nq1,5\n", r"s.csv: q_uid 'q1': answer 5 outside the 5 classes"),
                        ("q_uid,answer\nq1,B\n", r"s.csv:2: expected an option index, found 'B'")):
        open(csv_path, "w").write(text)
        with pytest.raises(InputError, match=error):
            M.read_submission(csv_path)
    open(json_path, "w").write('{"q1": true}')
    with pytest.raises(InputError, match=r"s.json: q_uid 'q1': expected an option index 0..4, found True"):
        M.read_submission(json_path)
    with pytest.raises(InputError, match=r"s.txt: expected an EgoSchema submission as .csv"):
        M.read_submission(str(tmp_path / "s.txt"))


# ---------------------------------------------------------------------------------------------------------
# engine metrics and the evaluate CLI score the same files to the same numbers

def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_mir_metric_and_cli_agree(tmp_path, capsys):
    clips, sentences, relevancy = write_mir_split(tmp_path, RELEVANCY)
    metric = M.EK100MIRMetric()
    metric.dataset_meta = dict(ann_file=clips, sentence_file=sentences, relevancy_file=relevancy)
    metric.out_dir = str(tmp_path)
    torch.manual_seed(0)
    video, text = torch.nn.functional.normalize(torch.randn(2, 4, 8), dim=-1)
    metric.process({}, [dict(video_emb=video[i], text_emb=text[i], narration_id=f"c{i}", index=i) for i in (3, 1)])
    metric.process({}, [dict(video_emb=video[i], text_emb=text[i], narration_id=f"c{i}", index=i) for i in (0, 2)])
    scores = metric.evaluate(4)
    assert set(scores) == {"mAP_V2T", "mAP_T2V", "mAP_avg", "nDCG_V2T", "nDCG_T2V", "nDCG_avg"}
    files = ["--clips", clips, "--sentences", sentences, "--relevancy", relevancy]
    evaluate_main(["mir", "--embeddings", str(tmp_path / "ek100_mir_embeddings.npz")] + files)
    assert last_json(capsys) == scores
    similarity = ((video.numpy() @ text.numpy().T + 1) / 2)[:, [1, 0, 3]]
    np.save(tmp_path / "s.npy", similarity)
    evaluate_main(["mir", "--similarity", str(tmp_path / "s.npy")] + files)
    assert last_json(capsys) == scores
    np.save(tmp_path / "s.npy", similarity[:, :2])
    with pytest.raises(SystemExit, match=r"error: .*s.npy: similarity matrix of shape \(4, 2\), expected clips x "
                                         r"sentences \(4, 3\)"):
        evaluate_main(["mir", "--similarity", str(tmp_path / "s.npy")] + files)
    with pytest.raises(KeyError, match=r"EK100MIRMetric: a prediction lacks 'text_emb'"):
        metric.process({}, [dict(video_emb=video[0], narration_id="c0")])


def write_action_csvs(tmp_path):
    rows = {"train.csv": [(0, 1), (0, 10), (2, 1)], "val.csv": [(0, 1), (11, 2)]}
    for name, pairs in rows.items():
        (tmp_path / name).write_text(OFFICIAL + "\n" + "".join(
            f"{name[0]}{i},P01,P01_1,00:00:00.000,00:00:01.00,00:00:02.00,0,0,x,v,{v},n,{n},[],[]\n"
            for i, (v, n) in enumerate(pairs)))
    return [str(tmp_path / "train.csv"), str(tmp_path / "val.csv")]


def test_action_metric_and_cli_agree(tmp_path, capsys):
    label_files = write_action_csvs(tmp_path)
    actions = ActionLabels.from_csvs(label_files)
    assert actions.names == ("0:1", "0:10", "11:2", "2:1")
    metric = M.EK100ActionMetric()
    metric.dataset_meta = dict(ann_file=label_files[1], actions=actions.names)
    metric.out_dir = str(tmp_path)
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    metric.process({}, [dict(logits=logits[i], label=torch.tensor(i % 4), narration_id=f"v{i}", index=i)
                        for i in range(6)])
    scores = metric.evaluate(6)
    assert scores == pytest.approx(M.ek100_cls_metrics(logits.numpy(), np.arange(6) % 4, actions))
    evaluate_main(["cls", "--logits", str(tmp_path / "ek100_cls_logits.npz")])
    assert last_json(capsys) == scores
    evaluate_main(["cls", "--logits", str(tmp_path / "ek100_cls_logits.npz"), "--label-files"] + label_files)
    assert last_json(capsys) == scores
    with pytest.raises(SystemExit, match=r"its label map \(4 actions\) differs from the one of .*train.csv \(3 "):
        evaluate_main(["cls", "--logits", str(tmp_path / "ek100_cls_logits.npz"), "--label-files", label_files[0]])
    np.savez(tmp_path / "bare.npz", logits=logits.numpy(), labels=np.arange(6) % 4)
    with pytest.raises(SystemExit, match=r"bare.npz: no 'actions' label map in the file: give --label-files"):
        evaluate_main(["cls", "--logits", str(tmp_path / "bare.npz")])


def test_egoschema_metric_and_cli_agree(tmp_path, capsys):
    options = {f"option {k}": f"C does {k}" for k in range(5)}
    questions = [dict(q_uid=f"q{i}", question="What?", **options) for i in range(6)]
    (tmp_path / "questions.json").write_text(json.dumps(questions))
    (tmp_path / "answers.json").write_text(json.dumps({"q0": 1, "q2": 3, "q5": 0}))
    metric = M.EgoSchemaMetric(answers_file=str(tmp_path / "answers.json"))
    metric.dataset_meta = dict(ann_file=str(tmp_path / "questions.json"), q_uids=tuple(q["q_uid"] for q in questions))
    metric.out_dir = str(tmp_path)
    video, text = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.randn(6, 5, 4)
    metric.process({}, [dict(video_emb=video[i], text_emb=text[i], q_uid=f"q{i}", index=i) for i in range(6)])
    scores = metric.evaluate(6)
    answers = M.egoschema_answers(video.numpy(), text.numpy())
    assert scores == {"accuracy": 100 * np.mean([answers[0] == 1, answers[2] == 3, answers[5] == 0]), "num_scored": 3.0}
    for ext in ("csv", "json"):
        evaluate_main(["egoschema", "--submission", str(tmp_path / f"egoschema_submission.{ext}"), "--questions",
                       str(tmp_path / "questions.json"), "--answers", str(tmp_path / "answers.json")])
        assert last_json(capsys) == scores
    (tmp_path / "questions.json").write_text(json.dumps(questions[:5]))
    with pytest.raises(SystemExit, match=r"egoschema_submission.csv: 1 answer\(s\) for questions not in the questions "
                                         r"file, e.g. \['q5'\]"):
        evaluate_main(["egoschema", "--submission", str(tmp_path / "egoschema_submission.csv"), "--questions",
                       str(tmp_path / "questions.json"), "--answers", str(tmp_path / "answers.json")])
