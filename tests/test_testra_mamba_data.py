"""TeSTra's EK100 layout and RULSTM's CSVs: window layout and sampling as upstream, evaluation items,
clip mixup, the loader's errors, and the toy set's format."""
import json

import numpy as np
import pytest

from testra_mamba.datasets import EK100AnticipationDataset, anticipation_collate
from testra_mamba.metrics import AnticipationRecall

DIMS = (3, 2)
ACTIONS = ((0, 0), (1, 0), (1, 1))  # action -> (verb, noun): 2 verbs, 2 nouns


def write_video(root, video, length, segments, value=None, dims=DIMS):
    """Features whose every entry is the tick index (or `value(t)`), TeSTra's per-frame targets."""
    ticks = np.arange(length, dtype=np.float32)[:, None] if value is None else value(np.arange(length))[:, None]
    for folder, dim in zip(("rgb_kinetics_bninception", "flow_kinetics_bninception"), dims):
        (root / folder).mkdir(parents=True, exist_ok=True)
        np.save(root / folder / f"{video}.npy", np.repeat(ticks, dim, axis=1))
    for folder, index, classes in (("target_perframe", 2, 3), ("verb_perframe", 0, 2), ("noun_perframe", 1, 2)):
        target = np.zeros((length, classes + 1))
        target[:, 0] = 1
        for start, end, *labels in segments:
            rows = slice(int(np.floor(start / 7.5)), min(int(np.ceil(end / 7.5)), length))
            target[rows, labels[index] + 1], target[rows, 0] = 1, 0
        (root / folder).mkdir(parents=True, exist_ok=True)
        np.save(root / folder / f"{video}.npy", target)


def write_set(root, videos, splits=("training", "validation")):
    """videos: {video: (length, [(start_frame, end_frame, verb, noun, action)])}, all in every split."""
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "actions.csv").write_text("id,verb,noun,action\n" + "".join(
        f"{a},{v},{n},verb{v} noun{n}\n" for a, (v, n) in enumerate(ACTIONS)))
    for split in splits:
        (ann / f"{split}.csv").write_text("".join(
            f"{video}_{i},{video},{s},{e},{v},{n},{a}\n"
            for video, (_, segs) in videos.items() for i, (s, e, v, n, a) in enumerate(segs)))
    for video, (length, segs) in videos.items():
        write_video(root, video, length, segs)
    return str(ann)


def dataset(root, split="training", training=True, **kw):
    return EK100AnticipationDataset(str(root), str(root / "annotations"), split, training, feature_dims=DIMS,
                                    long_memory_ticks=16, **kw)


def test_training_window_follows_testras_sampling(tmp_path):
    # start frame 300 -> tick 40; end frame 330 -> tick 44: the shift is capped at the end tick
    write_set(tmp_path, {"P01_01": (80, [(300, 330, 1, 1, 2)])})
    ds = dataset(tmp_path, clip_mixup_rate=0.0)
    np.random.seed(0)
    ends = set()
    for _ in range(200):
        item = ds[0]
        start = item["start"]
        end = start + 36  # history = 16 long + 20 work ticks
        ends.add(end)
        assert item["history"][:, 0].tolist() == np.clip(np.arange(start, end), 0, None).tolist()
        rows = [end - 20 + 2 * j for j in range(10)] + [end, end + 4]
        expected = np.zeros((12, 4))
        expected[:, 0] = 1
        inside = [i for i, t in enumerate(rows) if 40 <= t < 44]
        expected[inside, 0], expected[inside, 3] = 0, 1
        assert np.array_equal(item["action"].numpy(), expected)
    assert ends == {32, 33, 34, 35, 36}  # start 40 + 0..7, at most 44, minus 8


def test_windows_before_the_video_start_are_dropped_or_clipped(tmp_path):
    # start ticks 22 (frame 165, ends at tick 40) and 10 (frame 75): the second cannot have 20 work ticks
    # 2 s before it; the first only with shifts 6 and 7
    write_set(tmp_path, {"P01_01": (60, [(165, 300, 0, 0, 0), (75, 100, 1, 0, 1)])})
    ds = dataset(tmp_path, clip_mixup_rate=0.0)
    assert [s.id for s in ds.items] == ["P01_01_0"]
    np.random.seed(1)
    for _ in range(20):
        item = ds[0]
        end = item["start"] + 36
        assert end in (20, 21)
        history = item["history"][:, 0].numpy()
        assert np.array_equal(history, np.clip(np.arange(end - 36, end), 0, None))  # ticks < 0 read tick 0


def test_evaluation_items_score_one_second_before_each_start(tmp_path):
    # start ticks 40, 4 (frame 30: 1 s into the video, nothing observed 1 s before) and 12
    segs = [(300, 330, 1, 1, 2), (30, 60, 0, 0, 0), (90, 120, 1, 0, 1)]
    write_set(tmp_path, {"P01_01": (80, segs)})
    item = dataset(tmp_path, "validation", False, track_videos=1, track_stride=3)[0]
    assert item["ends"].tolist() == [36, 8] and item["segment_ids"] == ["P01_01_0", "P01_01_2"]
    assert item["discarded"] == ["P01_01_1"]
    assert item["features"].shape == (80, 5)
    assert item["track_ends"].tolist() == list(range(1, 76, 3))
    at_target = {e: (e + 4) for e in item["track_ends"].tolist()}
    expected = [2 if 40 <= t < 44 else 0 if 4 <= t < 8 else 1 if 12 <= t < 16 else -1 for t in at_target.values()]
    assert item["track_labels"].tolist() == expected
    batch = anticipation_collate([item])
    assert batch["inputs"][0].shape == (80, 5) and "features" not in batch["data_samples"][0]


def test_clip_mixup_replaces_earlier_segments_in_the_long_span_only(tmp_path):
    # an earlier segment (ticks 4..10) of action 0 in the long span; a longer action-0 segment in another video
    write_set(tmp_path, {"P01_01": (80, [(30, 75, 0, 0, 0), (300, 330, 1, 1, 2)]),
                         "P02_01": (80, [(75, 300, 0, 0, 0)])})
    write_video(tmp_path, "P02_01", 80, [(75, 300, 0, 0, 0)], value=lambda t: 1000.0 + t)
    ds = dataset(tmp_path, clip_mixup_rate=1.0)
    target = next(i for i, s in enumerate(ds.items) if s.id == "P01_01_1")
    np.random.seed(0)
    for _ in range(10):
        item = ds[target]
        start, history = item["start"], item["history"][:, 0].numpy()
        ticks = np.arange(start, start + 36)
        replaced = history != np.clip(ticks, 0, None)
        # old segment frames 30..75 -> ticks 4..10 (ceil of the end) in the long span [start, start + 16)
        assert set(ticks[replaced]) == set(range(4, 11))
        donor = history[replaced] - 1000
        assert np.all(np.diff(donor) == 1) and donor.min() >= 10 and donor.max() < 40  # a run of the donor segment


def break_set(root, case):
    ann = root / "annotations"
    if case == "missing video":
        (root / "flow_kinetics_bninception" / "P01_01.npy").unlink()
    elif case == "length mismatch":
        np.save(root / "noun_perframe" / "P01_01.npy", np.zeros((79, 3)))
    elif case == "wrong width":
        np.save(root / "rgb_kinetics_bninception" / "P01_01.npy", np.zeros((80, 4), np.float32))
    elif case == "action outside actions.csv":
        (ann / "training.csv").write_text("P01_01_0,P01_01,300,330,1,1,3\n")
    elif case == "verb and noun disagree":
        (ann / "training.csv").write_text("P01_01_0,P01_01,300,330,0,1,2\n")
    elif case == "duplicate id":
        (ann / "training.csv").write_text("a,P01_01,300,330,1,1,2\na,P01_01,320,330,1,1,2\n")
    elif case == "empty split":
        (ann / "training.csv").write_text("")
    elif case == "start after features":
        (ann / "training.csv").write_text("P01_01_0,P01_01,900,930,1,1,2\n")
    elif case == "bad actions header":
        (ann / "actions.csv").write_text("id,noun,verb,action\n0,0,0,x\n")
    elif case == "column count":
        (ann / "training.csv").write_text("P01_01_0,P01_01,300,330,1,1\n")


@pytest.mark.parametrize("case, message", [
    ("missing video", r"flow_kinetics_bninception/P01_01.npy: feature file not found"),
    ("length mismatch", r"feature streams disagree in length \(rgb_kinetics_bninception/P01_01.npy: 80, "
                        r".*noun_perframe/P01_01.npy: 79 ticks\)"),
    ("wrong width", r"rgb_kinetics_bninception/P01_01.npy: expected size 3 along axis 1 of the feature array"),
    ("action outside actions.csv", r"training.csv: line 1: action 3 is not in .*actions.csv"),
    ("verb and noun disagree", r"line 1: verb 0, noun 1 disagree with action 2"),
    ("duplicate id", r"line 2: segment id 'a' appears twice"),
    ("empty split", r"training.csv: no segments \(empty split\)"),
    ("start after features", r"segment P01_01_0 starts at tick 120, but P01_01 has 80 feature ticks"),
    ("bad actions header", r"actions.csv: expected the header 'id,verb,noun,action'"),
    ("column count", r"training.csv: line 1: expected 7 columns"),
])
def test_bad_input_is_an_error_naming_the_file(tmp_path, case, message):
    write_set(tmp_path, {"P01_01": (80, [(300, 330, 1, 1, 2)])})
    break_set(tmp_path, case)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        dataset(tmp_path)


def test_non_finite_features_are_an_error_when_read(tmp_path):
    write_set(tmp_path, {"P01_01": (80, [(300, 330, 1, 1, 2)])})
    feats = np.load(tmp_path / "rgb_kinetics_bninception" / "P01_01.npy")
    feats[30, 1] = np.nan
    np.save(tmp_path / "rgb_kinetics_bninception" / "P01_01.npy", feats)
    with pytest.raises(ValueError, match=r"rgb_kinetics_bninception/P01_01.npy: features hold NaN or Inf at "
                                         r"row\(s\) \[30\]"):
        dataset(tmp_path, "validation", False)[0]


def test_unlabelled_challenge_split_gives_scores_and_json_only(tmp_path):
    write_set(tmp_path, {"P01_01": (80, [(300, 330, 1, 1, 2)])}, splits=("training",))
    write_video(tmp_path, "P30_01", 60, [])
    for folder in ("target_perframe", "verb_perframe", "noun_perframe"):  # the test split has no labels
        (tmp_path / folder / "P30_01.npy").unlink()
    (tmp_path / "annotations" / "test_timestamps.csv").write_text("t0,P30_01,300,330\nt1,P30_01,10,40\n")
    ds = dataset(tmp_path, "test_timestamps", False)
    item = ds[0]
    assert item["ends"].tolist() == [36] and item["segment_ids"] == ["t0"] and item["discarded"] == ["t1"]
    metric = AnticipationRecall(challenge_file="challenge.json")
    metric.dataset_meta, metric.out_dir = ds.metainfo, str(tmp_path)
    probs = dict(verb=np.array([[0.3, 0.7]]), noun=np.array([[0.9, 0.1]]), action=np.array([[0.2, 0.5, 0.3]]))
    metric.process(None, [dict(item, **probs, track_action=np.zeros((0, 3)))])
    assert metric.evaluate(1) == {}
    with np.load(tmp_path / "anticipation_scores.npz") as scores:
        assert scores["ids"].tolist() == ["t0", "t1"]
        assert np.allclose(scores["action_scores"], [[0.2, 0.5, 0.3], [0, 0, 0]])
    results = json.loads((tmp_path / "challenge.json").read_text())["results"]
    assert results["t0"]["action"] == pytest.approx({"1,0": 0.5, "1,1": 0.3, "0,0": 0.2})
    assert list(results["t0"]["action"]) == ["1,0", "1,1", "0,0"] and results["t1"]["verb"] == {"0": 0, "1": 0}
