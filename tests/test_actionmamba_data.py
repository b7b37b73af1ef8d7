"""ActionFormer data handling: json validation, feature readers, grid mapping, crops, loader edge cases."""
import json
import random

import numpy as np
import pytest
import torch

from actionmamba.datasets import (ActionLocalizationDataset, actionformer_collate, crop_window, grid_to_seconds,
                                  load_annotations, load_features, seconds_to_grid)

CLASSES = ["A", "B"]


def ann(s, e, label="A"):
    return {"segment": [s, e], "label": label, "label_id": CLASSES.index(label)}


def write_set(root, videos, feats=None, ext=".npy", dim=8):
    """videos: {vid: (subset, duration, [annotations])}; writes json + features (T=40 unless given)."""
    (root / "feats").mkdir(exist_ok=True)
    database = {vid: {"subset": subset, "duration": duration, "fps": 30.0, "annotations": anns}
                for vid, (subset, duration, anns) in videos.items()}
    (root / "ann.json").write_text(json.dumps({"database": database}))
    for vid in videos:
        x = (feats or {}).get(vid, np.random.default_rng(0).normal(size=(40, dim)).astype(np.float32))
        if x is None:
            continue
        if ext == ".npy":
            np.save(root / "feats" / f"{vid}.npy", x)
        elif ext == ".npz":
            np.savez(root / "feats" / f"{vid}.npz", feats=x)
        else:
            torch.save(torch.from_numpy(x), root / "feats" / f"{vid}.pt")
    return str(root / "ann.json"), str(root / "feats")


def dataset(ann_file, feat_folder, **kw):
    args = dict(split="test", num_classes=2, input_dim=8, feat_stride=4, num_frames=16, max_seq_len=64,
                allow_empty_classes=True)
    return ActionLocalizationDataset(ann_file, feat_folder, **dict(args, **kw))


def test_grid_mapping_thumos():
    # 1 s at 30 fps, stride 4, 16-frame clips: 30 / 4 - 2 = 5.5 on the grid, and back
    assert seconds_to_grid(1.0, 30.0, 4, 16) == 5.5
    assert grid_to_seconds(torch.tensor([5.5, -10.0, 1e4]), 30.0, 4, 16, duration=20.0).tolist() == [1.0, 0.0, 20.0]


@pytest.mark.parametrize("ext", [".npy", ".npz", ".pt"])
def test_feature_readers_give_c_by_t(tmp_path, ext):
    x = np.arange(40 * 8, dtype=np.float32).reshape(40, 8)
    a, f = write_set(tmp_path, {"v1": ("test", 5.5, [ann(1.0, 2.0)])}, {"v1": x}, ext=ext)
    item = dataset(a, f, file_ext=ext)[0]
    assert torch.equal(item["feats"], torch.from_numpy(x.T))
    assert item["segments"].tolist() == [[5.5, 13.0]] and item["labels"].tolist() == [0]


def test_npz_without_feats_key(tmp_path):
    np.savez(tmp_path / "v.npz", other=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"v.npz: expected an array under key 'feats'"):
        load_features(str(tmp_path / "v.npz"))


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"videos": {}}', "expected a top-level object with a 'database'"),
    (json.dumps({"database": {"v1": {"subset": "test", "duration": 10, "annotations": [ann(5.0, 4.0)]}}}),
     r"video 'v1' annotation 0: segment: end 4 is before start 5"),
    (json.dumps({"database": {"v1": {"subset": "test", "duration": 10, "annotations": [ann(5.0, 14.0)]}}}),
     r"video 'v1' annotation 0: segment \[5.0, 14.0\] ends after the video's duration 10 \(tolerance 1\)"),
    (json.dumps({"database": {"v1": {"subset": "test", "duration": 10,
                                     "annotations": [{"segment": [1, 2], "label": "C", "label_id": 7}]}}}),
     r"video 'v1' annotation 0 \(label 'C'\): label_id 7 outside the 2 classes \[0, 2\)"),
    (json.dumps({"database": {"v1": {"subset": "test", "duration": 10,
                                     "annotations": [ann(1, 2), {"segment": [3, 4], "label": "A", "label_id": 1}]}}}),
     r"label 'A' has label_id 1 here but 0 before"),
    (json.dumps({"database": {"v1": {"subset": "test", "duration": 10, "annotations": [ann(1, 2)]}}}),
     r"found 1 classes, the config expects num_classes=2"),
    (json.dumps({"database": {"v1": {"subset": "test", "annotations": [{"segment": [1], "label": "A"}]}}}),
     r"expected 'segment': \[start, end\]"),
])
def test_malformed_annotations_name_file_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        load_annotations(str(path), num_classes=2)
    assert str(path) in str(err.value)


def test_duplicates_removed_and_labels_mapped(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"database": {"v1": {"subset": "Test", "duration": 10, "annotations": [
        ann(1.0, 2.0), ann(1.0005, 2.0), ann(1.0, 2.0, "B")]}}}))
    database, names = load_annotations(str(path), num_classes=2)
    assert names == ["A", "B"] and database["v1"]["subset"] == "test"
    assert [a["label"] for a in database["v1"]["annotations"]] == ["A", "B"]


def test_feature_dimension_and_nan_name_the_file(tmp_path):
    bad = np.zeros((40, 8), dtype=np.float32)
    bad[3, 2] = np.nan
    a, f = write_set(tmp_path, {"v1": ("test", 5.5, [ann(1, 2)]), "v2": ("test", 5.5, [ann(1, 2, "B")])},
                     {"v1": np.zeros((40, 6), dtype=np.float32), "v2": bad})
    ds = dataset(a, f)
    with pytest.raises(ValueError, match=r"v1.npy: feature dimension 6, the config expects 8"):
        ds[0]
    with pytest.raises(ValueError, match=r"v2.npy: features hold NaN"):
        ds[1]


def test_missing_feature_file_skipped_with_one_warning_each_or_error(tmp_path):
    a, f = write_set(tmp_path, {"v1": ("test", 5.5, [ann(1, 2)]), "v2": ("test", 5.5, [ann(1, 2, "B")]),
                                "v3": ("test", 5.5, [])}, {"v2": None, "v3": None})
    with pytest.warns(UserWarning) as record:
        ds = dataset(a, f)
    assert [v["video_id"] for v in ds.videos] == ["v1"]
    assert sorted(str(w.message).split(":")[0].rsplit("/", 1)[1] for w in record) == ["v2.npy", "v3.npy"]
    with pytest.raises(FileNotFoundError, match=r"v2.npy: feature file not found for video 'v2'"):
        dataset(a, f, skip_missing_features=False)


def test_training_drops_videos_without_actions_and_fps_required(tmp_path):
    a, f = write_set(tmp_path, {"v1": ("test", 5.5, [ann(1, 2)]), "v2": ("test", 5.5, [ann(3, 3.005)])})
    assert [v["video_id"] for v in dataset(a, f, training=True).videos] == ["v1"]
    assert len(dataset(a, f).videos) == 2
    database = json.loads(open(a).read())
    del database["database"]["v1"]["fps"]
    open(a, "w").write(json.dumps(database))
    with pytest.raises(ValueError, match=r"video 'v1' has no 'fps' and the config sets no default_fps"):
        dataset(a, f)
    assert dataset(a, f, default_fps=15)[0]["fps"] == 15


def test_force_upsampling_resizes_and_rescales_stride(tmp_path):
    a, f = write_set(tmp_path, {"v1": ("test", 5.5, [ann(1, 2)])})
    item = dataset(a, f, max_seq_len=192, feat_stride=16, num_frames=16, force_upsampling=True, default_fps=15)[0]
    stride = (39 * 16 + 16) / 192
    assert item["feats"].shape == (8, 192)
    assert item["feat_stride"] == item["num_frames"] == pytest.approx(stride)
    assert item["segments"][0, 0].item() == pytest.approx(1.0 * 15 / stride - 0.5)


def test_crop_long_video_to_exact_length_keeps_overlapping_segments():
    feats = torch.arange(100.0)[None].repeat(2, 1)
    segments = torch.tensor([[10.0, 20.0], [60.0, 80.0]])
    labels = torch.tensor([0, 1])
    for seed in range(20):
        x, s, lab = crop_window(feats, segments, labels, 50, trunc_thresh=0.5, offset=2.0, rng=random.Random(seed))
        start = int(x[0, 0])
        assert x.shape == (2, 50) and torch.equal(x[0], torch.arange(start, start + 50.0))
        assert len(s) >= 1 and (s[:, 0] >= -2.0).all() and (s[:, 1] <= 52.0).all()
        for seg, label in zip(s + start, lab):  # kept segments are the originals clipped to the widened window
            orig = segments[label]
            assert seg[0] == max(orig[0], start - 2.0) and seg[1] == min(orig[1], start + 52.0)
            assert (seg[1] - seg[0]) / (orig[1] - orig[0]) >= 0.5


def test_crop_ratio_on_short_video():
    feats, segments, labels = torch.zeros(3, 40), torch.tensor([[5.0, 35.0]]), torch.tensor([1])
    lengths = {crop_window(feats, segments, labels, 64, 0.5, 2.0, (0.9, 1.0), random.Random(s))[0].shape[1]
               for s in range(40)}
    assert lengths <= set(range(36, 41)) and len(lengths) > 1
    assert crop_window(feats, segments, labels, 64, 0.5, 2.0, None)[0].shape[1] == 40


def test_collate_keeps_videos_separate(tmp_path):
    a, f = write_set(tmp_path, {"v1": ("test", 5.5, [ann(1, 2)]), "v2": ("test", 5.5, [ann(1, 2, "B")])})
    ds = dataset(a, f)
    batch = actionformer_collate([ds[0], ds[1]])
    assert [x.shape for x in batch["inputs"]] == [(8, 40), (8, 40)]
    assert [s["video_id"] for s in batch["data_samples"]] == ["v1", "v2"] and "feats" not in batch["data_samples"][0]


@pytest.mark.parametrize("content, problem", [
    (b"", "unreadable feature file, empty or truncated"),
    (None, "unreadable feature file, empty or truncated"),  # truncated: the first 100 bytes of a real file
    (np.array(["a", "b"]), "expected a numeric T x C feature array"),
    (np.zeros(5, dtype=np.float32), "expected a 2-d T x C feature array, found shape \\(5,\\)"),
    (np.array([{"a": 1}], dtype=object), "holds pickled Python objects, not a numeric array"),
])
def test_empty_truncated_or_non_array_feature_files_name_the_file(tmp_path, content, problem):
    path = tmp_path / "v.npy"
    if content is None:
        np.save(path, np.zeros((40, 8), dtype=np.float32))
        path.write_bytes(path.read_bytes()[:100])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(ValueError, match=f"{path}: {problem}"):
        load_features(str(path))


def test_features_far_shorter_than_the_video_or_zero_fps_are_errors(tmp_path):
    # 40 features x 4 frames + 16 at 30 fps cover 5.73 s; a 9 s video is short by more than max(2 s, 10%)
    a, f = write_set(tmp_path, {"v1": ("test", 7.5, [ann(1, 2)]), "v2": ("test", 9.0, [ann(1, 2, "B")])})
    ds = dataset(a, f)
    assert ds[0]["feats"].shape == (8, 40)  # 1.77 s short of 7.5 s: within the slack
    with pytest.raises(ValueError, match=r"v2.npy: 40 features x stride 4 frames at 30 fps cover 5.7 s of the "
                                         r"9.0 s video 'v2': check fps, feat_stride"):
        ds[1]
    with pytest.raises(ValueError, match=r"video 'v1': fps must be positive, got 0"):
        dataset(a, f, default_fps=0)
