"""The Moment-DETR / UniVTG loaders: features and targets as upstream builds them, and clear errors."""
import json
import random

import numpy as np
import pytest
import torch

from univtg_mamba.datasets import MomentRetrievalDataset, clip_targets, moment_collate, saliency_targets


def write_set(root, items, video_len=None, dims=(6, 4), text_dim=5, text_len=3):
    """A tiny UniVTG-layout data set: metadata jsonl + vid_slowfast / vid_clip / txt_clip npz files."""
    rng = np.random.default_rng(0)
    for folder in ("metadata", "vid_slowfast", "vid_clip", "txt_clip"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for item in items:
        n = video_len or int(item["duration"] // 2)
        np.savez(root / "vid_slowfast" / f"{item['vid']}.npz", features=rng.normal(size=(n, dims[0])))
        np.savez(root / "vid_clip" / f"{item['vid']}.npz", features=rng.normal(size=(n + 1, dims[1])))
        np.savez(root / "txt_clip" / f"{item['qid']}.npz", last_hidden_state=rng.normal(size=(text_len, text_dim)),
                 pooler_output=rng.normal(size=text_dim))
    ann = root / "metadata" / "set.jsonl"
    ann.write_text("".join(json.dumps(item) + "\n" for item in items))
    return ann


def dataset(root, ann, **kw):
    return MomentRetrievalDataset(str(ann), [str(root / "vid_slowfast"), str(root / "vid_clip")],
                                  str(root / "txt_clip"), [6, 4], text_feat_dim=5, **kw)


QUERY = dict(qid=7, query="a dog runs", vid="v1", duration=16, relevant_windows=[[4, 10]],
             relevant_clip_ids=[2, 3, 4], saliency_scores=[[1, 2, 3], [4, 4, 4], [0, 0, 3]])


def test_clip_targets_follow_upstreams_anchor_formula():
    # 8 clips of 2 s; anchors (t + 1) / 8 = each clip's end; the window [4, 10] s is [0.25, 0.625] normalised
    timestamp, span, window = clip_targets([[4, 10]], 8, 2.0)
    assert timestamp.tolist() == pytest.approx([(t + 1) / 8 for t in range(8)])
    assert window.tolist() == [0, 1, 1, 1, 1, 0, 0, 0]  # clip 1 ends at 4 s: inside, as upstream counts it
    assert span[2].tolist() == [0.25, 0.625] and span[0].tolist() == [0, 0]
    # 1 s clips (Charades-STA): anchors at the clip centres
    assert clip_targets([[2.5, 4.2]], 6, 1.0)[2].tolist() == [0, 0, 1, 1, 0, 0]  # anchors 2.5 s and 3.5 s
    # overlapping windows: a clip takes the later one; no anchor inside any window: the first window, its clip
    assert clip_targets([[0, 8], [4, 12]], 8, 2.0)[1][2].tolist() == [0.25, 0.75]
    timestamp, span, window = clip_targets([[4.2, 4.8]], 8, 2.0)
    assert window.tolist() == [0, 0, 1, 0, 0, 0, 0, 0] and torch.equal(span, torch.tensor([[4.2 / 16, 4.8 / 16]] * 8))


def test_saliency_targets_mean_scores_and_positive_clip():
    window = torch.tensor([0, 0, 1, 1, 1, 0, 0, 0.0])
    saliency, positive = saliency_targets(QUERY, 8, window, "top")
    assert saliency.tolist() == pytest.approx([0, 0, 2, 4, 1, 0, 0, 0])
    assert positive == 3  # the highest summed score
    assert {saliency_targets(QUERY, 8, window, "random", random.Random(s))[1] for s in range(40)} == {2, 3, 4}
    # without saliency labels (Charades-STA): the window, and a positive inside it
    item = {k: v for k, v in QUERY.items() if k not in ("relevant_clip_ids", "saliency_scores")}
    saliency, positive = saliency_targets(item, 8, window, "random")
    assert saliency.tolist() == window.tolist() and positive in (2, 3, 4)


def test_item_reads_features_as_upstream(tmp_path):
    ann = write_set(tmp_path, [QUERY, dict(QUERY, qid=8, vid="v2", duration=12, relevant_windows=[[0, 2]],
                                           relevant_clip_ids=[0], saliency_scores=[[2, 2, 2]])])
    ds = dataset(tmp_path, ann)
    assert len(ds) == 2 and ds.video_dim == 12
    item = ds[0]
    video, text, sample = item["video"], item["text"], item["sample"]
    assert video.shape == (8, 12)  # the CLIP stream's extra clip is cut; 6 + 4 + 2 (temporal endpoints)
    assert torch.allclose(video[:, :6].norm(dim=1), torch.ones(8), atol=1e-4)  # each stream L2-normalised
    assert torch.allclose(video[:, 6:10].norm(dim=1), torch.ones(8), atol=1e-4)
    assert torch.allclose(video[:, 10:], torch.tensor([[t / 8, (t + 1) / 8] for t in range(8)]))
    assert text.shape == (3, 5) and torch.allclose(text.norm(dim=1), torch.ones(3), atol=1e-4)
    assert sample["timestamp_window"].tolist() == [0, 1, 1, 1, 1, 0, 0, 0]
    batch = moment_collate([ds[0], ds[1]])
    assert batch["inputs"]["video"].shape == (2, 8, 12) and batch["inputs"]["video_mask"].sum(1).tolist() == [8, 6]
    assert [s["qid"] for s in batch["data_samples"]] == [7, 8]


def test_unlabelled_split_gives_predictable_items(tmp_path):
    ann = write_set(tmp_path, [dict(qid=1, query="q", vid="v", duration=10)])
    sample = dataset(tmp_path, ann)[0]["sample"]
    assert sample == dict(qid=1, query="q", vid="v", duration=10.0, clip_len=2.0)


@pytest.mark.parametrize("break_it, message", [
    (lambda root: (root / "vid_clip" / "v1.npz").unlink(), r"1 feature files not found, e.g. \[.*vid_clip/v1.npz"),
    (lambda root: np.savez(root / "vid_clip" / "v1.npz", features=np.zeros((8, 3))),
     r"v1.npz: expected a \(rows >= 1, 4\)"),
    (lambda root: np.savez(root / "vid_clip" / "v1.npz", feats=np.zeros((8, 4))),
     r"expected an array under key 'features'"),
    (lambda root: np.savez(root / "vid_clip" / "v1.npz", features=np.full((8, 4), np.nan)),
     "NaN or Inf"),
    (lambda root: np.savez(root / "txt_clip" / "7.npz", pooler_output=np.zeros(5)), "'last_hidden_state'"),
])
def test_bad_feature_files_are_named(tmp_path, break_it, message):
    ann = write_set(tmp_path, [QUERY])
    break_it(tmp_path)
    with pytest.raises((FileNotFoundError, KeyError, ValueError), match=message):
        dataset(tmp_path, ann)[0]


@pytest.mark.parametrize("lines, message", [
    (['{"qid": 7,'], "line 1: not valid JSON"),
    (['{"qid": 7, "qid": 8}'], "line 1: key 'qid' appears twice"),
    ([json.dumps(QUERY), json.dumps(QUERY)], "qid 7 appears more than once"),
    ([json.dumps(dict(QUERY, relevant_windows=[[10, 4]]))], "relevant_windows"),
    ([json.dumps(dict(QUERY, saliency_scores=[[1, 2]] * 3))], "3 annotators"),
    ([json.dumps(dict(QUERY, saliency_scores=[[1, 2, 5], [4, 4, 4], [0, 0, 3]]))],
     r"qid 7: 'saliency_scores' entry 5 outside the 5 classes \[0, 5\)"),
    ([json.dumps(dict(QUERY, relevant_clip_ids=[2, 3, 3]))], r"'relevant_clip_ids' lists clips twice: \[3\]"),
    ([json.dumps(QUERY), json.dumps({k: v for k, v in QUERY.items() if k != "relevant_windows"} | {"qid": 9})],
     "some queries have 'relevant_windows'"),
    ([], "no queries"),
])
def test_bad_metadata_is_named(tmp_path, lines, message):
    write_set(tmp_path, [QUERY])
    ann = tmp_path / "metadata" / "bad.jsonl"
    ann.write_text("".join(line + "\n" for line in lines))
    with pytest.raises(ValueError, match=message):
        dataset(tmp_path, ann)


# --- the toy set (tools/make_toy_data.py univtg_mamba) and mutations of it ----------------------------------

@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from univtg_mamba import TASK
    root = tmp_path_factory.mktemp("toy") / "univtg_mamba"
    TASK.make_toy_data(str(root), seed=0)
    return root


def toy_dataset(toy, split="train", ann_file=None):
    from common.engine import load_config
    loader = load_config("univtg_mamba/configs/toy/univtg.py")[f"{split}_dataloader"]
    cfg = {k: v for k, v in loader.dataset.items() if k != "type"}
    cfg.update(video_feat_dirs=[str(toy / "vid_slowfast"), str(toy / "vid_clip")], text_feat_dir=str(toy / "txt_clip"),
               ann_file=str(ann_file or toy / "metadata" / f"qvhighlights_{split}.jsonl"))
    return MomentRetrievalDataset(**cfg)


def mutated_metadata(toy, tmp_path, split, change):
    """The toy split's metadata with `change(first query)` applied, written to tmp_path; -> (path, query)."""
    lines = [json.loads(line) for line in (toy / "metadata" / f"qvhighlights_{split}.jsonl").read_text().splitlines()]
    change(lines[0])
    path = tmp_path / f"qvhighlights_{split}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path, lines[0]


def test_training_windows_past_the_duration_are_an_error(toy, tmp_path):
    assert len(toy_dataset(toy)) > 0
    path, query = mutated_metadata(toy, tmp_path, "train",
                                   lambda q: q["relevant_windows"][0].__setitem__(1, q["duration"] + 20))
    with pytest.raises(ValueError, match=rf"{path}: qid {query['qid']}: 'relevant_windows' entry( 0)? "
                                         rf"\[.*\] ends after the video's duration {query['duration']} "
                                         r"\(tolerance 1\)"):
        toy_dataset(toy, ann_file=path)


def cut_stream(toy, tmp_path, clips):
    """A copy of the toy's CLIP stream folder with the first training video `clips` clips shorter."""
    import shutil
    folder = tmp_path / "vid_clip"
    shutil.copytree(toy / "vid_clip", folder)
    vid = json.loads((toy / "metadata" / "qvhighlights_train.jsonl").read_text().splitlines()[0])["vid"]
    features = np.load(folder / f"{vid}.npz")["features"]
    np.savez(folder / f"{vid}.npz", features=features[:len(features) - clips])
    return folder, vid, len(features)


def test_a_video_whose_streams_differ_by_more_than_a_clip_is_an_error_naming_both_files(toy, tmp_path):
    folder, vid, n = cut_stream(toy, tmp_path, 3)
    cfg_toy = tmp_path / "toy"
    cfg_toy.mkdir()
    for name in ("vid_slowfast", "txt_clip", "metadata"):
        (cfg_toy / name).symlink_to(toy / name)
    (cfg_toy / "vid_clip").symlink_to(folder)
    message = (rf"qvhighlights_train.jsonl: video '{vid}': feature streams disagree in length \(.*vid_slowfast/{vid}"
               rf"\.npz: {n}, .*vid_clip/{vid}\.npz: {n - 3} clips\); they must agree within 1")
    with pytest.raises(ValueError, match=message):  # before: cut to 28 of 31 clips without a word
        toy_dataset(cfg_toy)


def test_streams_one_clip_apart_are_cut_to_the_shorter_as_upstream(toy, tmp_path):
    folder, vid, n = cut_stream(toy, tmp_path, 1)
    cfg_toy = tmp_path / "toy"
    cfg_toy.mkdir()
    for name in ("vid_slowfast", "txt_clip", "metadata"):
        (cfg_toy / name).symlink_to(toy / name)
    (cfg_toy / "vid_clip").symlink_to(folder)
    dataset = toy_dataset(cfg_toy)
    assert dataset.items[0]["vid"] == vid and dataset[0]["video"].shape[0] == n - 1


def test_a_video_with_two_durations_and_a_pickled_feature_file_are_errors(toy, tmp_path):
    train = [json.loads(line) for line in (toy / "metadata" / "qvhighlights_train.jsonl").read_text().splitlines()]
    second = next(i for i, q in enumerate(train) if i and q["vid"] == train[0]["vid"])
    path, _ = mutated_metadata(toy, tmp_path, "train", lambda q: q.__setitem__("duration", q["duration"] + 2))
    with pytest.raises(ValueError, match=rf"qid {train[second]['qid']}: video '{train[0]['vid']}' has duration "
                                         rf"{train[0]['duration']}, another query of it {train[0]['duration'] + 2}"):
        toy_dataset(toy, ann_file=path)
    text = tmp_path / "txt_clip"
    text.mkdir()
    for f in (toy / "txt_clip").iterdir():
        (text / f.name).symlink_to(f)
    (text / f"{train[0]['qid']}.npz").unlink()
    np.savez(text / f"{train[0]['qid']}.npz", last_hidden_state=np.array([{"a": 1}], dtype=object))
    cfg_toy = tmp_path / "toy"
    cfg_toy.mkdir()
    for name in ("vid_slowfast", "vid_clip", "metadata"):
        (cfg_toy / name).symlink_to(toy / name)
    (cfg_toy / "txt_clip").symlink_to(text)
    with pytest.raises(ValueError, match=rf"txt_clip/{train[0]['qid']}.npz: holds pickled Python objects") as err:
        toy_dataset(cfg_toy)
    assert "allow_pickle" not in str(err.value)
