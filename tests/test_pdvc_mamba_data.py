"""PDVC's data formats: tokenisation and vocabulary, feature naming and resizing, the data set and its errors."""
import json
import warnings

import numpy as np
import pytest
import torch

from pdvc_mamba.datasets import (DenseCaptionDataset, Vocabulary, feature_path, load_captions, pdvc_collate,
                                 resize_features, split_words)
from pdvc_mamba.toy import build_vocabulary


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def vocab_file(tmp_path):
    words = ["a", "man", "is", "cooking", "the", "pan", "<bos>", "<eos>", "UNK"]
    return write(tmp_path / "vocab.json", {"ix_to_word": {str(i + 1): w for i, w in enumerate(words)},
                                           "word_to_ix": {w: i + 1 for i, w in enumerate(words)}})


def test_tokenisation_as_pdvc_translator(vocab_file):
    assert split_words('A man, "is" cooking-the pan.\\nNow') == ["a", "man", "is", "cooking", "the", "pan", "now"]
    assert split_words("back\\slash") == ["back", "slash"]
    vocab = Vocabulary(vocab_file, 9)
    assert vocab.encode("A man is cooking a wok.", 30).tolist() == [0, 1, 2, 3, 4, 1, 9, 0]  # wok -> UNK (9)
    assert vocab.encode("a man is cooking the pan", 5).tolist() == [0, 1, 2, 3, 0]  # cut to max_len - 2 words
    assert vocab.decode([1, 2, 3, 4, 0, 5]) == "a man is cooking."
    assert vocab.decode([0, 1]) == ""


def test_vocabulary_errors(tmp_path, vocab_file):
    with pytest.raises(ValueError, match="9 words, the config expects vocab_size=10"):
        Vocabulary(vocab_file, 10)
    bad = write(tmp_path / "bad.json", {"ix_to_word": {"1": "a"}, "word_to_ix": {"a": 1, "b": 2}})
    with pytest.raises(ValueError, match="no entry '2'"):
        Vocabulary(bad)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Vocabulary(str(tmp_path / "missing.json"))


def test_toy_vocabulary_follows_build_vocab():
    vocab = build_vocabulary(["A dog runs.", "a dog sits", "cat"], threshold=2)
    assert vocab["ix_to_word"] == {"1": "a", "2": "dog", "3": "<bos>", "4": "<eos>", "5": "UNK"}


def test_feature_file_names_follow_pdvc():
    vid = "v_QOlSCBRmfWY_extra"
    assert feature_path("f", "c3d", vid) == "f/v_QOlSCBRmfWY.npy"
    assert feature_path("f", "tsp", vid) == "f/v_QOlSCBRmfWY.npy"
    assert feature_path("f", "resnet", vid) == "f/QOlSCBRmfWY_resnet.npy"
    assert feature_path("f", "bn", vid) == "f/QOlSCBRmfWY_bn.npy"
    with pytest.raises(ValueError, match="unknown feature type 'i3d'"):
        feature_path("f", "i3d", vid)


def test_resize_is_nearest_on_endpoint_aligned_positions():
    feats = np.arange(5, dtype=np.float32)[:, None]
    # positions i * 4 / 7 = 0, .571, 1.143, 1.714, 2.286, 2.857, 3.429, 4 -> nearest
    assert resize_features(feats, 8)[:, 0].tolist() == [0, 1, 1, 2, 2, 3, 3, 4]
    # positions i * 1 / 2 = 0, .5, 1: scipy's 'nearest' rounds a half down
    assert resize_features(np.array([[1.0], [2.0]]), 3)[:, 0].tolist() == [1, 1, 2]
    assert resize_features(np.array([[7.0, 8.0]]), 3).tolist() == [[7, 8]] * 3
    assert resize_features(feats, 5)[:, 0].tolist() == [0, 1, 2, 3, 4]


def make_set(tmp_path, captions, feats=None, types=("c3d",), dims=(500,)):
    caption_file = write(tmp_path / "captions.json", captions)
    folder = tmp_path / "feats"
    folder.mkdir(exist_ok=True)
    for vid, arrays in (feats or {}).items():
        for t, array in zip(types, arrays):
            np.save(feature_path(str(folder), t, vid), array)
    return caption_file, [str(folder)] * len(types)


def test_dataset_item_and_collate(tmp_path, vocab_file):
    captions = {"v_aaaaaaaaaaa": {"duration": 10.0, "timestamps": [[1, 3], [2, 8]],
                                  "sentences": ["A man is cooking.", "the pan"]},
                "v_bbbbbbbbbbb": {"duration": 4.0, "timestamps": [[0, 4]], "sentences": ["a man"]}}
    rng = np.random.default_rng(0)
    feats = {vid: [rng.normal(size=(6, 2048)).astype(np.float32), rng.normal(size=(3, 1024)).astype(np.float32)]
             for vid in captions}
    caption_file, folders = make_set(tmp_path, captions, feats, ("resnet", "bn"))
    ds = DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["resnet", "bn"], frame_embedding_num=6)
    item = ds[0]
    assert item["feats"].shape == (6, 3072)
    np.testing.assert_array_equal(item["feats"][:, :2048].numpy(), feats["v_aaaaaaaaaaa"][0])
    np.testing.assert_array_equal(item["feats"][:, 2048:].numpy(), resize_features(feats["v_aaaaaaaaaaa"][1], 6))
    assert item["boxes"].flatten().tolist() == pytest.approx([0.2, 0.2, 0.5, 0.6])  # (centre, length) / duration
    batch = pdvc_collate([ds[0], ds[1]])
    assert batch["inputs"].shape == (2, 6, 3072)
    second = batch["data_samples"][1]
    assert second["captions"].tolist() == [[0, 1, 2, 0, 0, 0]]  # padded to the batch's longest caption
    assert second["caption_lengths"].tolist() == [4] and second["num_frames"] == 6


def test_training_keeps_a_random_subset_of_events_in_order(tmp_path, vocab_file):
    captions = {"v_aaaaaaaaaaa": {"duration": 10.0, "timestamps": [[i, i + 1] for i in range(6)],
                                  "sentences": ["a"] * 6}}
    caption_file, folders = make_set(tmp_path, captions, {"v_aaaaaaaaaaa": [np.zeros((4, 500), np.float32)]})
    ds = DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["c3d"], max_events=3, training=True)
    np.random.seed(0)
    starts = [ds[0]["timestamps"][i][0] for i in range(3)]
    assert len(starts) == 3 and starts == sorted(starts)
    assert len(DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["c3d"], max_events=3)[0]["boxes"]) == 6


def test_missing_feature_file_is_zeros_with_one_warning(tmp_path, vocab_file):
    captions = {"v_aaaaaaaaaaa": {"duration": 10.0, "timestamps": [[1, 3]], "sentences": ["a"]},
                "v_bbbbbbbbbbb": {"duration": 10.0, "timestamps": [[1, 3]], "sentences": ["a"]}}
    caption_file, folders = make_set(tmp_path, captions, {"v_aaaaaaaaaaa": [np.ones((4, 500), np.float32)]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["c3d"], frame_embedding_num=8)
        item = ds[1]
        ds[1]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "v_bbbbbbbbbbb.npy: feature file not found" in messages[0]
    assert item["feats"].shape == (8, 500) and not item["feats"].any()


def test_invalid_video_list_drops_videos(tmp_path, vocab_file):
    captions = {"v_aaaaaaaaaaa": {"duration": 10.0, "timestamps": [[1, 3]], "sentences": ["a"]},
                "v_bbbbbbbbbbb": {"duration": 10.0, "timestamps": [[1, 3]], "sentences": ["a"]}}
    caption_file, folders = make_set(tmp_path, captions, {"v_aaaaaaaaaaa": [np.ones((4, 500), np.float32)]})
    invalid = write(tmp_path / "invalid.json", ["v_bbbbbbbbbbb"])
    ds = DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["c3d"], invalid_video_files=[invalid])
    assert ds.video_ids == ["v_aaaaaaaaaaa"]


@pytest.mark.parametrize("video, message", [
    ({"duration": 0, "timestamps": [[1, 2]], "sentences": ["a"]}, "'duration' must be a positive number"),
    ({"duration": 5, "timestamps": [[1, 2]], "sentences": []}, "equal length"),
    ({"duration": 5, "timestamps": [[3, 2]], "sentences": ["a"]}, "timestamp: end 2 is before start 3"),
    ({"duration": 5, "timestamps": [[1]], "sentences": ["a"]}, r"expected \[start, end\] timestamps"),
    ({"duration": 5, "timestamps": [], "sentences": []}, "no events"),
    ({"duration": 5, "timestamps": [[1, 2]], "sentences": [3]}, "sentence 0 is not a string"),
    ({"duration": 5, "timestamps": [[1, 2]], "sentences": ["a"], "action_labels": [1]},
     "action label 1 outside the 1 classes"),
])
def test_caption_json_errors_name_file_and_video(tmp_path, video, message):
    path = write(tmp_path / "captions.json", {"v_x": video})
    with pytest.raises(ValueError, match=message) as err:
        load_captions(path)
    assert "captions.json: video 'v_x'" in str(err.value)


def test_duplicate_and_malformed_json(tmp_path):
    dup = tmp_path / "dup.json"
    dup.write_text('{"v_x": {"duration": 1, "timestamps": [], "sentences": []}, "v_x": {}}')
    with pytest.raises(ValueError, match="key 'v_x' appears twice"):
        load_captions(str(dup))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        load_captions(str(broken))


@pytest.mark.parametrize("array, message", [
    (np.zeros((4, 499), np.float32), r"expected size 500 along axis 1 of the feature array, found shape \(4, 499\)"),
    (np.zeros(500, np.float32), r"expected a 2-d feature array of shape \(any, 500\)"),
    (np.full((4, 500), np.nan, np.float32), "NaN or Inf"),
])
def test_bad_feature_files_name_the_file(tmp_path, vocab_file, array, message):
    captions = {"v_aaaaaaaaaaa": {"duration": 10.0, "timestamps": [[1, 3]], "sentences": ["a"]}}
    caption_file, folders = make_set(tmp_path, captions, {"v_aaaaaaaaaaa": [array]})
    ds = DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["c3d"])
    with pytest.raises(ValueError, match=message) as err:
        ds[0]
    assert "v_aaaaaaaaaaa.npy" in str(err.value)


def test_unknown_feature_type_and_mismatched_folders(tmp_path, vocab_file):
    captions = {"v_aaaaaaaaaaa": {"duration": 10.0, "timestamps": [[1, 3]], "sentences": ["a"]}}
    caption_file, folders = make_set(tmp_path, captions)
    with pytest.raises(ValueError, match="unknown feature type"):
        DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["optical_flow"])
    with pytest.raises(ValueError, match="2 feature types but 1 feature folders"):
        DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["resnet", "bn"])
    assert torch.is_tensor(DenseCaptionDataset(caption_file, vocab_file, 9, folders, ["c3d"])[0]["boxes"])
