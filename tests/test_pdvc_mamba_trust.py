"""Issue 21's PDVC cases on the toy data set (pdvc_mamba.toy, as `tools/make_toy_data.py pdvc_mamba` writes it),
each with a mutation: input that cannot be right is an error naming the file and what was expected, while
the toy set itself (and annotations as real ActivityNet ones are) load as before."""
import json
import shutil

import numpy as np
import pytest

from common.checks import InputError
from pdvc_mamba import metrics as M
from pdvc_mamba.datasets import TIMESTAMP_TOLERANCE, DenseCaptionDataset, Vocabulary, load_captions
from pdvc_mamba.evaluate import main as evaluate_main
from pdvc_mamba.toy import make_toy_data


@pytest.fixture(scope="module")
def toy_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_pdvc_source")
    make_toy_data(str(root), seed=0, n_train=10, n_val=4)
    return root


@pytest.fixture
def toy(toy_source, tmp_path):
    """A fresh copy of the toy set to mutate."""
    shutil.copytree(toy_source, tmp_path / "toy")
    return tmp_path / "toy"


def read(path):
    return json.loads(path.read_text())


def write(path, data):
    path.write_text(json.dumps(data))


def dataset(root, split="train_modified", training=True, vocab="vocabulary_activitynet.json"):
    return DenseCaptionDataset(str(root / "captiondata" / f"{split}.json"), str(root / vocab), None,
                               [str(root / "features" / "c3d")], ["c3d"], frame_embedding_num=16, training=training)


def first_video(path):
    data = read(path)
    return data, next(iter(data))


def test_the_toy_set_loads(toy):
    assert len(dataset(toy)) == 10 and len(dataset(toy, "val_1", False)) == 4
    assert [len(r) for r in M.load_references([str(toy / "captiondata" / "val_1.json"),
                                               str(toy / "captiondata" / "val_2.json")])] == [4, 4]


def test_training_timestamps_far_past_the_video_are_an_error(toy):
    path = toy / "captiondata" / "train_modified.json"
    data, vid = first_video(path)
    duration = data[vid]["duration"]
    data[vid]["timestamps"][0] = [1.0, 10 * duration]  # e.g. in the wrong unit
    write(path, data)
    with pytest.raises(InputError, match=f"train_modified.json: video '{vid}': timestamp.* ends after the video's "
                                         f"duration {duration:g} \\(tolerance 0.1\\)"):
        dataset(toy)


def test_timestamps_as_close_to_the_end_as_real_annotations_load(toy):
    # ActivityNet's files end events up to 0.01 s past the duration (rounding to 0.01 s)
    path = toy / "captiondata" / "train_modified.json"
    data, vid = first_video(path)
    duration = data[vid]["duration"]
    data[vid]["timestamps"][-1][1] = duration + 0.01
    write(path, data)
    assert load_captions(str(path))[vid]["timestamps"][-1] == [data[vid]["timestamps"][-1][0], duration + 0.01]
    data[vid]["timestamps"][-1][1] = duration + 2 * TIMESTAMP_TOLERANCE
    write(path, data)
    with pytest.raises(InputError, match="ends after the video's duration"):
        load_captions(str(path))


@pytest.mark.parametrize("mutate, message", [
    (lambda v: v.update(duration=float("inf")), "'duration' must be a positive number of seconds, found inf"),
    (lambda v: v["timestamps"].__setitem__(0, [-3.0, 1.0]), "starts before 0"),
    (lambda v: v["timestamps"].__setitem__(0, [1.0, float("nan")]), "is not finite"),
])
def test_other_impossible_timestamps_are_errors(toy, mutate, message):
    path = toy / "captiondata" / "train_modified.json"
    data, vid = first_video(path)
    mutate(data[vid])
    path.write_text(json.dumps(data).replace("Infinity", "1e999"))  # json.loads reads 1e999 as inf
    with pytest.raises(InputError, match=message):
        dataset(toy)


def test_validation_reference_past_the_video_is_an_error(toy, tmp_path):
    path = toy / "captiondata" / "val_1.json"
    data, vid = first_video(path)
    data[vid]["timestamps"][0] = [0.0, data[vid]["duration"] * 1000]  # milliseconds
    write(path, data)
    predictions = tmp_path / "results.json"
    write(predictions, {"results": {vid: [{"timestamp": [0.0, 1.0], "sentence": "a dog"}]}})
    with pytest.raises(SystemExit, match=f"val_1.json: video '{vid}': timestamp.* ends after the video's duration"):
        evaluate_main(["--predictions", str(predictions), "--references", str(path), "--no-rerank"])


def test_vocabulary_that_turns_every_caption_into_unk_is_an_error(toy):
    vocab_path = toy / "vocabulary_activitynet.json"
    size = len(read(vocab_path)["word_to_ix"])
    words = [f"word{i}" for i in range(size - 3)] + ["<bos>", "<eos>", "UNK"]  # same size, none of the words
    write(toy / "other_vocabulary.json", {"ix_to_word": {str(i + 1): w for i, w in enumerate(words)},
                                          "word_to_ix": {w: i + 1 for i, w in enumerate(words)}})
    with pytest.raises(InputError, match=r"other_vocabulary.json: the vocabulary misses 100.0% of the caption words "
                                         r"of .*train_modified.json .*expected at most 10%"):
        dataset(toy, vocab="other_vocabulary.json")
    assert Vocabulary(str(vocab_path)).unknown_words(["Chef slices ripe tomatoes."])[0] == {}
    dataset(toy, "val_1", training=False, vocab="other_vocabulary.json")  # captions are only trained on


def test_vocabulary_whose_two_maps_disagree_is_an_error(toy):
    path = toy / "vocabulary_activitynet.json"
    vocab = read(path)
    first, second = vocab["ix_to_word"]["1"], vocab["ix_to_word"]["2"]
    vocab["ix_to_word"]["1"], vocab["ix_to_word"]["2"] = second, first  # decoding would swap the two words
    write(path, vocab)
    with pytest.raises(InputError, match=rf"vocabulary_activitynet.json: ix_to_word\['1'\] is '{second}', but "
                                         rf"word_to_ix\['{second}'\] is 2"):
        Vocabulary(str(path))


def test_feature_file_that_is_not_an_array_is_an_error_without_a_hint_to_unpickle(toy):
    ds = dataset(toy)
    path = toy / "features" / "c3d" / f"{ds.video_ids[0]}.npy"
    np.save(path, np.array([{"features": np.zeros((4, 500))}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="holds pickled Python objects, not a numeric array") as err:
        ds[0]
    assert str(path) in str(err.value) and "allow_pickle" not in str(err.value)


@pytest.fixture
def references(toy):
    return [str(toy / "captiondata" / "val_1.json"), str(toy / "captiondata" / "val_2.json")]


def score(tmp_path, references, results):
    path = tmp_path / "results.json"
    write(path, results)
    evaluate_main(["--predictions", str(path), "--references", *references, "--no-rerank"])


def test_empty_results_are_an_error(tmp_path, references):
    with pytest.raises(SystemExit, match="results.json: 'results' holds no video: nothing to score"):
        score(tmp_path, references, {"results": {}})


def test_results_for_other_videos_only_are_an_error(tmp_path, references):
    with pytest.raises(SystemExit, match=r"results.json: none of its 1 videos \(e.g. 'v_elsewhere'\) is in "
                                         r".*val_1.json: nothing to score"):
        score(tmp_path, references, {"results": {"v_elsewhere": [{"timestamp": [0, 1], "sentence": "a"}]}})


def test_a_reference_file_without_any_predicted_video_is_an_error(toy, tmp_path, references):
    other = toy / "captiondata" / "other.json"
    write(other, {"v_other": {"duration": 10.0, "timestamps": [[1, 2]], "sentences": ["a dog"]}})
    vid = next(iter(read(toy / "captiondata" / "val_1.json")))
    with pytest.raises(SystemExit, match="none of its 1 videos .* is in .*other.json"):  # its SODA_c would be NaN
        score(tmp_path, [references[0], str(other)], {"results": {vid: [{"timestamp": [0, 1], "sentence": "a"}]}})


@pytest.mark.parametrize("stamp, message", [
    ([5.0, 2.0], "prediction: end 2 is before start 5"),
    ([1.0, 1e4], "prediction .* ends after the video's duration"),
])
def test_reversed_or_outside_predictions_are_errors(tmp_path, toy, references, stamp, message):
    vid = next(iter(read(toy / "captiondata" / "val_1.json")))
    with pytest.raises(SystemExit, match=f"results.json: video '{vid}': {message}"):
        score(tmp_path, references, {"results": {vid: [{"timestamp": stamp, "sentence": "a"}]}})
