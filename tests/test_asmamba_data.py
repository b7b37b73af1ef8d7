"""asmamba.datasets: the MS-TCN layout, padding collate, and every bad-input error."""
import numpy as np
import pytest
import torch

from asmamba.datasets import ActionSegmentationDataset, action_segmentation_collate
from asmamba.toy import make_toy_data

CLASSES = ["take", "open", "background"]


def write_dataset(root, videos, feature_dim=4, mapping=CLASSES, train=None):
    """videos: {name: (labels, features (feature_dim, T) or None for T = len(labels))}."""
    for sub in ("features", "groundTruth", "splits"):
        (root / sub).mkdir(exist_ok=True)
    (root / "mapping.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(mapping)))
    (root / "splits" / "train.split1.bundle").write_text("".join(f"{v}.txt\n" for v in (train or videos)))
    rng = np.random.default_rng(0)
    for name, (labels, features) in videos.items():
        (root / "groundTruth" / f"{name}.txt").write_text("".join(f"{label}\n" for label in labels))
        if features is None:
            features = rng.normal(size=(feature_dim, len(labels))).astype(np.float32)
        np.save(root / "features" / f"{name}.npy", features)
    return str(root)


def test_items_subsample_and_truncate(tmp_path):
    labels = ["background"] * 2 + ["take"] * 3 + ["open"] * 2
    features = np.arange(4 * 9, dtype=np.float32).reshape(4, 9)  # 2 frames longer than the labels
    root = write_dataset(tmp_path, {"v1": (labels, features)})
    ds = ActionSegmentationDataset(root, split=1, subset="train", sample_rate=2)
    assert ds.metainfo == dict(classes=tuple(CLASSES), sample_rate=2)
    item = ds[0]
    assert item["video"] == "v1"
    assert torch.equal(item["features"], torch.from_numpy(features[:, :7:2]))  # T = min(9, 7), [::2]
    assert item["labels"].tolist() == [2, 0, 0, 1]
    assert item["gt_full"].tolist() == [2, 2, 0, 0, 0, 1, 1]


def test_features_one_frame_short_are_accepted(tmp_path):
    root = write_dataset(tmp_path, {"v1": (["take"] * 5, np.zeros((4, 4), np.float32))})
    item = ActionSegmentationDataset(root)[0]
    assert item["labels"].numel() == 4 and item["gt_full"].size == 5


def test_collate_pads_with_ignore_index_and_mask(tmp_path):
    root = write_dataset(tmp_path, {"a": (["take"] * 3, None), "b": (["open"] * 5, None)})
    ds = ActionSegmentationDataset(root)
    batch = action_segmentation_collate([ds[0], ds[1]])
    assert batch["inputs"].shape == (2, 4, 5)
    assert batch["inputs"][0, :, 3:].abs().sum() == 0
    samples = batch["data_samples"]
    assert samples["labels"].tolist() == [[0, 0, 0, -100, -100], [1] * 5]
    assert samples["mask"].tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert samples["videos"] == ["a", "b"]


def test_toy_data_is_deterministic_and_loads(tmp_path):
    make_toy_data(str(tmp_path / "x"), seed=3)
    make_toy_data(str(tmp_path / "y"), seed=3)
    for split in (1, 4):
        train = ActionSegmentationDataset(str(tmp_path / "x"), split=split, subset="train")
        test = ActionSegmentationDataset(str(tmp_path / "x"), split=split, subset="test")
        assert len(train) == 15 and len(test) == 5 and not set(train.videos) & set(test.videos)
    a = np.load(tmp_path / "x" / "features" / "S1_Tea_C1.npy")
    assert a.shape[0] == 2048 and np.array_equal(a, np.load(tmp_path / "y" / "features" / "S1_Tea_C1.npy"))
    assert (tmp_path / "x" / "groundTruth" / "S2_Coffee_C1.txt").read_text() == \
        (tmp_path / "y" / "groundTruth" / "S2_Coffee_C1.txt").read_text()


# --- bad input -----------------------------------------------------------------------------------------

def test_missing_feature_file(tmp_path):
    root = write_dataset(tmp_path, {"v1": (["take"] * 3, None)})
    (tmp_path / "features" / "v1.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"features/v1\.npy: feature file not found"):
        ActionSegmentationDataset(root)


def test_label_absent_from_mapping_names_file_and_line(tmp_path):
    root = write_dataset(tmp_path, {"v1": (["take", "take", "stir", "open"], None)})
    with pytest.raises(ValueError, match=r"groundTruth/v1\.txt line 3: label 'stir' is not in mapping\.txt"):
        ActionSegmentationDataset(root)


def test_empty_bundle(tmp_path):
    root = write_dataset(tmp_path, {"v1": (["take"] * 3, None)})
    (tmp_path / "splits" / "train.split1.bundle").write_text("\n")
    with pytest.raises(ValueError, match=r"split bundle lists no videos: .*train\.split1\.bundle"):
        ActionSegmentationDataset(root)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features(tmp_path, bad):
    features = np.zeros((4, 3), np.float32)
    features[1, 2] = bad
    root = write_dataset(tmp_path, {"v1": (["take"] * 3, features)})
    ds = ActionSegmentationDataset(root)
    with pytest.raises(ValueError, match=r"features/v1\.npy: features hold NaN or Inf"):
        ds[0]


def test_features_shorter_than_labels_by_more_than_a_frame(tmp_path):
    root = write_dataset(tmp_path, {"v1": (["take"] * 5, np.zeros((4, 3), np.float32))})
    message = r"features/v1\.npy: 3 feature frames for 5 label lines in .*groundTruth/v1\.txt"
    with pytest.raises(ValueError, match=message):
        ActionSegmentationDataset(root)


def test_other_bad_layouts(tmp_path):
    root = write_dataset(tmp_path, {"v1": (["take"] * 3, None)})
    with pytest.raises(FileNotFoundError, match=r"split bundle missing: .*test\.split1\.bundle"):
        ActionSegmentationDataset(root, subset="test")
    (tmp_path / "groundTruth" / "v1.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"ground-truth file missing: .*groundTruth/v1\.txt"):
        ActionSegmentationDataset(root)
    (tmp_path / "mapping.txt").write_text("0 take\nopen\n")
    with pytest.raises(ValueError, match=r"mapping\.txt line 2: expected '<id> <name>'"):
        ActionSegmentationDataset(root)


@pytest.mark.parametrize("content, problem", [
    (b"", "unreadable feature file, empty or truncated"),
    (None, "unreadable feature file, empty or truncated"),  # a real file cut after 100 bytes
    (np.array(["a", "b"]), "expected a numeric \\(feature_dim, T\\) array"),
    (np.array([{"a": 1}], dtype=object), "holds pickled Python objects, not a numeric array"),
])
def test_empty_truncated_or_non_array_feature_files_name_the_file(tmp_path, content, problem):
    root = write_dataset(tmp_path, {"v1": (["take"] * 30, None)})
    path = tmp_path / "features" / "v1.npy"
    if content is None:
        path.write_bytes(path.read_bytes()[:100])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(ValueError, match=f"{path}: {problem}") as error:
        ActionSegmentationDataset(root)
    assert "allow_pickle" not in str(error.value)


@pytest.mark.parametrize("override, problem", [
    ({"model.num_classes": 5}, r"mapping.txt lists 3 classes; the model of .*asformer_toy.py has num_classes=5"),
    ({"model.input_dim": 8}, r"features hold 4-d features; the model of .*asformer_toy.py has input_dim=8"),
])
def test_data_that_does_not_fit_the_model_stops_the_run(tmp_path, override, problem):
    from common.engine import build_runner, load_config
    root = write_dataset(tmp_path, {"v1": (["take"] * 6, None)}, train=["v1"])
    (tmp_path / "splits" / "test.split1.bundle").write_text("v1.txt\n")
    options = {f"{k}_dataloader.dataset.data_root": root for k in ("train", "val", "test")}
    options.update({"model.num_classes": 3, "model.input_dim": 4, "model.num_f_maps": 8, "model.num_layers": 2})
    cfg = load_config("asmamba/configs/toy/asformer_toy.py", dict(options, **override))
    cfg.work_dir, cfg.log_level = str(tmp_path / "wd"), "WARNING"
    with pytest.raises(ValueError, match=problem):
        build_runner(cfg).train()
