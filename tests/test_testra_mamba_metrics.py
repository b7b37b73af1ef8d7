"""RULSTM's class-mean top-5 recall on hand-worked cases (ties, absent classes, subsets), the score-file checks,
the evaluate CLI and the challenge json."""
import json

import numpy as np
import pytest

from testra_mamba.datasets import EK100Annotations
from testra_mamba.evaluate import main as evaluate_main
from testra_mamba.metrics import (KEYS, anticipation_recalls, challenge_json, class_mean_recall, load_scores,
                                  top_k)


def test_top_k_ranks_best_first_and_breaks_ties_towards_higher_indices():
    scores = np.array([[0.1, 0.3, 0.3, 0.3, 0.2, 0.3, 0.3, 0.3, 0.0]])
    assert top_k(scores).tolist() == [[7, 6, 5, 3, 2]]
    assert top_k(np.zeros((1, 9))).tolist() == [[8, 7, 6, 5, 4]]  # RULSTM's order for a constant (discarded) row


def test_class_mean_recall_hand_worked():
    # 7 classes; labels 0, 0, 1, 6: classes 2..5 are absent and do not count.
    scores = np.array([
        [9, 8, 7, 6, 5, 4, 0],   # label 0: in top 5 -> hit
        [0, 9, 8, 7, 6, 5, 4],   # label 0: last -> miss      => class 0 recall 1/2
        [9, 8, 7, 6, 5, 4, 0],   # label 1: hit               => class 1 recall 1
        [1, 1, 1, 1, 1, 1, 1],   # label 6: all tied, the highest index ranks first -> hit => class 6 recall 1
    ], dtype=float)
    labels = np.array([0, 0, 1, 6])
    assert class_mean_recall(scores, labels) == pytest.approx(100 * (0.5 + 1 + 1) / 3)


def test_class_mean_recall_tie_at_the_fifth_place():
    # scores tie for places 4-7: the higher indices (6, 5) take places 4 and 5, so 2 and 3 are out.
    scores = np.array([[0.0, 0.0, 0.5, 0.5, 0.9, 0.5, 0.5, 0.8]] * 2)
    assert top_k(scores)[0].tolist() == [4, 7, 6, 5, 3]
    assert class_mean_recall(scores, np.array([2, 6])) == pytest.approx(50.0)


def test_class_mean_recall_weights_classes_not_segments():
    scores = np.tile(np.arange(10.0), (5, 1))  # top 5 = classes 9..5
    labels = np.array([9, 9, 9, 9, 0])  # class 9: 4/4, class 0: 0/1
    assert class_mean_recall(scores, labels) == pytest.approx(50.0)


def test_recall_of_an_empty_subset_is_an_error():
    with pytest.raises(ValueError, match="empty subset"):
        class_mean_recall(np.zeros((0, 5)), np.zeros(0, dtype=int))


def test_anticipation_recalls_subsets():
    ids = np.array(["a", "b", "c", "d"])
    good = np.eye(10)[[1, 2, 3, 4]] + 0.01 * np.arange(10)  # own class first
    bad = np.tile(np.arange(10.0), (4, 1))[:, ::-1]  # top 5 = classes 0..4 for every row
    scores = dict(verb=good, noun=bad, action=good)
    labels = dict(verb=np.array([1, 2, 3, 4]), noun=np.array([1, 2, 8, 9]), action=np.array([1, 2, 3, 4]))
    subsets = dict(unseen_participants={"c", "d"}, tail_verbs={"a"}, tail_nouns={"c", "d"}, tail_actions={"b"})
    out = anticipation_recalls(scores, labels, ids, subsets)
    assert list(out) == list(KEYS)
    assert out["overall_verb"] == 100 and out["overall_noun"] == 50 and out["unseen_noun"] == 0
    assert out["tail_noun"] == 0 and out["tail_verb"] == 100 and out["unseen_verb"] == 100


def write_annotations(root, validation, actions=((0, 0), (1, 0), (1, 1)), subsets=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "actions.csv").write_text("id,verb,noun,action\n" + "".join(
        f"{a},{v},{n},verb{v} noun{n}\n" for a, (v, n) in enumerate(actions)))
    (root / "training.csv").write_text("P01_01_0,P01_01,10,50,0,0,0\n")
    (root / "validation.csv").write_text("".join(f"{i},{v},{s},{e},{verb},{noun},{a}\n"
                                                 for i, v, s, e, verb, noun, a in validation))
    subsets = subsets or {}
    for name in ("tail_verbs", "tail_nouns", "tail_actions", "unseen_participants"):
        (root / f"validation_{name}_ids.csv").write_text("".join(f"{i}\n" for i in subsets.get(name, ["s0"])))
    return EK100Annotations(str(root))


VALIDATION = [("s0", "P01_11", 100, 200, 0, 0, 0), ("s1", "P01_11", 300, 400, 1, 1, 2),
              ("s2", "P09_01", 50, 90, 1, 0, 1)]


def save_scores(path, ids, verb, noun, action):
    np.savez(path, ids=np.array(ids), verb_scores=verb, noun_scores=noun, action_scores=action)


def test_cli_prints_the_nine_recalls(tmp_path, capsys):
    actions = ((0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (3, 2), (3, 3))  # 4 verbs, 4 nouns, 7 actions
    ann = write_annotations(tmp_path / "ann", VALIDATION, actions, subsets=dict(
        unseen_participants=["s2"], tail_verbs=["s1", "s2"], tail_nouns=["s1"], tail_actions=["s1", "s2"]))
    action = np.tile(np.arange(7.0), (3, 1))  # top 5 = actions 6..2
    action[1, 2] = 10  # s1 (row 1 here, action 2): first
    # rows in another order than the CSV: s2 (action 1, missed), s1, s0 (action 0, missed)
    save_scores(tmp_path / "s.npz", ["s2", "s1", "s0"], np.ones((3, 4)), np.ones((3, 4)), action)
    evaluate_main(["--annotations", ann.root, "--scores", str(tmp_path / "s.npz")])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(out) == list(KEYS)
    assert out["overall_action"] == pytest.approx(100 / 3, abs=1e-4) and out["tail_action"] == 50
    assert out["unseen_action"] == 0 and out["overall_verb"] == 100 and out["tail_noun"] == 100


def test_scores_are_aligned_by_id(tmp_path):
    ann = write_annotations(tmp_path / "ann", VALIDATION)
    action = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    save_scores(tmp_path / "s.npz", ["s1", "s0", "s2"], np.ones((3, 2)), np.ones((3, 2)), action)
    scores = load_scores(str(tmp_path / "s.npz"), ann)
    assert scores["action"].argmax(1).tolist() == [0, 2, 1]  # s0, s1, s2 as in validation.csv


@pytest.mark.parametrize("case, message", [
    ("missing", "have no scores"), ("unknown", "not validation segments"), ("duplicate", "more than once"),
    ("nan", r"noun_scores \(ids x noun classes in .*actions.csv\) hold NaN or Inf"),
    ("width", r"expected size 3 along axis 1 of the action_scores"),
    ("key", r"expected an array under key 'action_scores', found keys \['ids', 'noun_scores', 'verb_scores'\]"),
    ("pickled ids", "s.npz: holds pickled Python objects, not a numeric array"),
])
def test_bad_score_files_are_errors(tmp_path, case, message):
    ann = write_annotations(tmp_path / "ann", VALIDATION)
    ids, verb, noun, action = ["s0", "s1", "s2"], np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 3))
    if case == "missing":
        ids, verb, noun, action = ids[:2], verb[:2], noun[:2], action[:2]
    elif case == "unknown":
        ids = ["s0", "s1", "s9"]
    elif case == "duplicate":
        ids = ["s0", "s1", "s1"]
    elif case == "nan":
        noun[1, 0] = np.nan
    elif case == "width":
        action = np.ones((3, 4))
    path = tmp_path / "s.npz"
    if case == "key":
        np.savez(path, ids=np.array(ids), verb_scores=verb, noun_scores=noun)
    elif case == "pickled ids":
        np.savez(path, ids=np.array(ids, dtype=object), verb_scores=verb, noun_scores=noun, action_scores=action)
    else:
        save_scores(path, ids, verb, noun, action)
    with pytest.raises(ValueError, match=message):
        load_scores(str(path), ann)
    with pytest.raises(SystemExit, match=message):
        evaluate_main(["--annotations", ann.root, "--scores", str(path)])


def test_challenge_json_has_rulstm_layout(tmp_path):
    ann = write_annotations(tmp_path / "ann", VALIDATION)
    scores = dict(verb=np.array([[0.2, 0.8]]), noun=np.array([[0.6, 0.4]]), action=np.array([[0.1, 0.2, 0.7]]))
    out = challenge_json(["s1"], scores, ann.classes, top_actions=2)
    assert out["version"] == "0.2" and out["challenge"] == "action_anticipation"
    assert (out["sls_pt"], out["sls_tl"], out["sls_td"]) == (1, 4, 3)
    assert out["results"]["s1"] == dict(verb={"0": 0.2, "1": 0.8}, noun={"0": 0.6, "1": 0.4},
                                        action={"1,1": 0.7, "1,0": 0.2})
