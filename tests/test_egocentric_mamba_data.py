"""egocentric_mamba's data side: CLIP's tokenizer (the suite's ids), the suite's frame sampling and clip
transforms, the annotation readers and their errors (each naming the file), the four data sets on the toy set
in the real formats, and the toy set itself (formats, motion-only narrations, bytes identical across processes)."""
import json
import os

import pytest
import torch

from egocentric_mamba.tokenizer import EOT, SOT, ClipTokenizer

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="module")
def tokenizer():
    return ClipTokenizer()


def test_tokenizer_gives_the_suites_ids(tokenizer):
    """Ids from the suite's avion/data/tokenizer.py tokenize(text) on 23 strings: ftfy repair, double HTML
    unescaping, whitespace, case, contractions, digits, non-Latin scripts, emoji, literal special tokens,
    truncation to 77 (the last id forced to end-of-text), the empty string."""
    cases = json.load(open(os.path.join(FIXTURES, "egocentric_mamba_clip_tokens.json")))["cases"]
    batch = tokenizer([c["text"] for c in cases])
    assert batch.shape == (len(cases), 77) and batch.dtype == torch.long
    for row, case in zip(batch, cases):
        n = len(case["ids"])
        assert row[:n].tolist() == case["ids"], case["text"]
        assert (row[n:] == 0).all()
        assert row[0] == SOT and row[n - 1] == EOT
        # the text tower pools at the first largest id: the end of text, or a literal "<end_of_text>" (as upstream)
        assert row.argmax() == (n - 1 if "<end_of_text>" not in case["text"] else 3)
    assert max(len(c["ids"]) for c in cases) == 77
    assert torch.equal(tokenizer(cases[0]["text"]), batch[0])


def test_tokenizer_without_vocabulary_says_where_it_comes_from(monkeypatch, tmp_path):
    import egocentric_mamba.tokenizer as tok
    monkeypatch.setattr(tok, "VOCAB_PACKAGE", "no_such_package_here")
    with pytest.raises(FileNotFoundError, match="ships with open_clip_torch"):
        tok.default_vocab_path()
    import gzip
    with gzip.open(tmp_path / "small.txt.gz", "wt") as f:
        f.write("#version\na b\n")
    with pytest.raises(ValueError, match="small.txt.gz: not CLIP's BPE vocabulary"):
        ClipTokenizer(str(tmp_path / "small.txt.gz"))


# ---------------------------------------------------------------------------------------------------------
# frame sampling and pixels

def test_frame_ids_are_the_suites_segment_midpoints():
    from egocentric_mamba.datasets import frame_ids
    assert frame_ids(0, 8, 4) == [1, 3, 5, 7]
    assert frame_ids(10, 20, 4) == [11, 13, 16, 18]  # midpoints 11.25, 13.75, 16.25, 18.75, truncated
    assert frame_ids(0, 16, 16) == list(range(16))  # EgoSchema's prefix sampling
    assert frame_ids(0, 3, 6) == [0, 0, 1, 1, 2, 2]  # fewer frames than the clip: repeats
    torch.manual_seed(0)
    for _ in range(50):
        ids = frame_ids(100, 160, 4, jitter=True)  # segments of 15 frames, jitter +-(59 / 4) / 2
        assert ids == sorted(ids) and all(100 + 15 * k <= i < 100 + 15 * (k + 1) for k, i in enumerate(ids))
    assert len({tuple(frame_ids(100, 160, 4, jitter=True)) for _ in range(20)}) > 10


def test_clip_transform_eval_resizes_the_short_side_and_crops_the_centre():
    import numpy as np
    from egocentric_mamba.datasets import CLIP_MEAN, CLIP_STD, ClipTransform
    frames = np.zeros((2, 40, 60, 3), np.uint8)
    frames[:, :, :] = np.round(CLIP_MEAN).astype(np.uint8)
    frames[:, :, :5] = 255  # a band the centre crop of the 32 x 48 resize leaves out
    out = ClipTransform(32, training=False)(frames)
    assert out.shape == (3, 2, 32, 32) and out.dtype == torch.float32
    assert out.abs().max() < 0.01  # the CLIP mean normalises to 0
    same = ClipTransform(32)(np.full((1, 32, 32, 3), 255, np.uint8))  # already the crop size: no resampling
    assert torch.allclose(same[:, 0, 0, 0], (255 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD))


def test_random_resized_crop_draws_torchvisions_boxes():
    from egocentric_mamba.datasets import ClipTransform, random_resized_crop_box
    torch.manual_seed(0)
    for _ in range(200):
        top, left, h, w = random_resized_crop_box(48, 64)
        assert 0 <= top <= 48 - h and 0 <= left <= 64 - w
        assert 0.5 * 48 * 64 * 0.9 <= h * w <= 48 * 64 and 3 / 4 * 0.85 <= w / h <= 4 / 3 * 1.15
    assert random_resized_crop_box(100, 2) == (48, 0, 3, 2)  # no try fits: the centre crop at the closest ratio
    import numpy as np
    assert ClipTransform(32, training=True)(np.zeros((3, 48, 64, 3), np.uint8)).shape == (3, 3, 32, 32)


# ---------------------------------------------------------------------------------------------------------
# the toy set: real formats, narrations only time tells

SMALL_TOY = dict(EGO4D_VIDEOS=3, EK100_VIDEOS={"train": 2, "validation": 2}, EGOSCHEMA_QUESTIONS=4,
                 EGOSCHEMA_ANSWERED=3)


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    from egocentric_mamba import toy
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SMALL_TOY.items():
            mp.setattr(toy, name, value)
        root = str(tmp_path_factory.mktemp("toy") / "egocentric_mamba")
        toy.make_toy_data(root, seed=0)
    return root


def paths(root):
    ann = f"{root}/ek100/epic-kitchens-100-annotations"
    ret = f"{ann}/retrieval_annotations"
    return dict(
        pkl=f"{root}/ego4d/ego4d_train.pkl", ego_videos=f"{root}/ego4d/videos", ek_videos=f"{root}/ek100/videos",
        train=f"{ann}/EPIC_100_train.csv", val=f"{ann}/EPIC_100_validation.csv",
        mir_train=f"{ret}/EPIC_100_retrieval_train.csv", mir_test=f"{ret}/EPIC_100_retrieval_test.csv",
        sent_train=f"{ret}/EPIC_100_retrieval_train_sentence.csv",
        sent_test=f"{ret}/EPIC_100_retrieval_test_sentence.csv",
        rel_train=f"{ret}/relevancy/caption_relevancy_EPIC_100_retrieval_train.pkl",
        rel_test=f"{ret}/relevancy/caption_relevancy_EPIC_100_retrieval_test.pkl",
        questions=f"{root}/egoschema/questions.json", answers=f"{root}/egoschema/subset_answers.json",
        es_videos=f"{root}/egoschema/videos")


def file_hashes(root):
    import hashlib
    return {os.path.relpath(os.path.join(d, f), root): hashlib.md5(open(os.path.join(d, f), "rb").read()).hexdigest()
            for d, _, files in os.walk(root) for f in files}


def test_toy_files_are_in_the_real_formats(toy_root):
    import csv
    import pickle
    import numpy as np
    from common.video import probe_video
    from egocentric_mamba import toy
    p = paths(toy_root)
    entries = pickle.load(open(p["pkl"], "rb"))
    assert all(isinstance(e, tuple) and len(e) == 4 and isinstance(e[1], float) for e in entries)
    assert any(isinstance(e[3], list) for e in entries) and any(isinstance(e[3], str) for e in entries)
    long_uid = next(e[0] for e in entries if e[2] > 15)
    info = probe_video(f"{p['ego_videos']}/{long_uid}/0000.mp4", count=True)
    assert (info.num_frames, info.fps, info.height, info.width) == (450, 30.0, 32, 32)
    assert os.path.isfile(f"{p['ego_videos']}/{long_uid}/0001.mp4")
    header = lambda path: next(csv.reader(open(path)))  # noqa: E731
    official = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
                "stop_timestamp", "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class",
                "all_nouns", "all_noun_classes"]
    assert header(p["train"]) == official and header(p["mir_test"]) == ["uid"] + official
    assert header(p["sent_train"]) == ["index", "narration", "verb_class", "noun_classes", "verb", "nouns"]
    assert header(p["sent_test"]) == ["index", "sentence"]
    rows = list(csv.DictReader(open(p["mir_test"])))
    sentences = list(csv.DictReader(open(p["sent_test"])))
    relevancy = pickle.load(open(p["rel_test"], "rb"))
    assert relevancy.shape == (len(rows), len(sentences))
    assert set(np.unique(relevancy)) <= {0.5 * v + 0.5 * n for v in (0, 1) for n in (0, 1 / 3, 1 / 2, 1)}  # IoUs
    by_id = {r["narration_id"]: r for r in rows}
    for j, s in enumerate(sentences):  # relevancy 1 exactly where verb and noun set are those of the sentence
        own = by_id[s["index"]]
        same = [r["verb_class"] == own["verb_class"] and sorted(eval(r["all_noun_classes"])) ==
                sorted(eval(own["all_noun_classes"])) for r in rows]
        assert ((relevancy[:, j] == 1) == np.array(same)).all() and own["narration"] == s["sentence"]
    questions = json.load(open(p["questions"]))
    assert len(questions) == 4
    assert all({"q_uid", "google_drive_id", "question", "option 4"} <= set(q) for q in questions)
    answers = json.load(open(p["answers"]))
    assert len(answers) == 3 and set(answers.values()) <= set(range(5))
    assert probe_video(f"{p['es_videos']}/{questions[0]['q_uid']}.mp4").fps == toy.FPS


def test_toy_single_frames_do_not_tell_the_narration():
    """Positions are drawn before the action applies: two videos of different narrations from the same random
    state show the same first frame, all four objects in it; over time the narrated object glides its way."""
    import numpy as np
    from egocentric_mamba import toy
    push_box = toy.render(np.random.default_rng(7), 40, [(0, 40, 0, [2])])
    lift_fork = toy.render(np.random.default_rng(7), 40, [(0, 40, 11, [10])])
    assert (push_box[0] == lift_fork[0]).all() and not (push_box[20] == lift_fork[20]).all()
    for noun, colour in toy.COLOURS.items():
        assert (np.abs(push_box[0].astype(int) - np.clip(np.array(colour) + 0, 0, 255)).sum(-1) < 70).any(), noun
    moved = np.abs(push_box[10].astype(int) - push_box[0]).sum(-1) > 0
    assert moved.any() and (push_box[10] == np.roll(push_box[0], 8, axis=1))[moved].mean() > 0.9  # 10 x 0.8 px right


def test_toy_bytes_are_identical_across_processes(toy_root, tmp_path):
    import subprocess
    import sys
    code = ("import egocentric_mamba.toy as t\n" + "".join(f"t.{k} = {v!r}\n" for k, v in SMALL_TOY.items())
            + f"t.make_toy_data({str(tmp_path / 'again')!r}, seed=0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert file_hashes(toy_root) == file_hashes(str(tmp_path / "again"))


# ---------------------------------------------------------------------------------------------------------
# the data sets on the toy set

def build(name, **kw):
    from common.engine import DATASETS
    import egocentric_mamba.datasets  # noqa: F401  (registration)
    return DATASETS.build(dict(type=name, crop_size=32, **kw))


def test_ego4d_pairs_read_the_chunks_the_suite_reads(toy_root, tokenizer):
    import numpy as np
    from common.video import read_frames
    from egocentric_mamba.datasets import CHUNK_SECONDS, FPS, egocentric_collate, frame_ids
    p = paths(toy_root)
    ds = build("Ego4DNarrationDataset", ann_file=p["pkl"], video_root=p["ego_videos"], clip_length=4, training=False)
    sample = ds[0]
    assert sample["inputs"].shape == (3, 4, 32, 32)
    meta = sample["data_samples"]["meta"]
    assert meta["index"] == 0 and meta["video_uid"] == ds.entries[0][0]
    assert torch.equal(sample["data_samples"]["tokens"], tokenizer(meta["narration"]))
    listed = next(i for i, e in enumerate(ds.entries) if isinstance(e[3], list))
    assert ds[listed]["data_samples"]["meta"]["narration"] in ds.entries[listed][3]
    uid = next(e[0] for e in ds.entries if e[2] > 15)
    start, end = 14.2, 15.8  # a clip across the 15 s boundary reads both chunk files
    ids = frame_ids(int(np.round(start * FPS)), int(np.round(end * FPS)), 4)
    per_chunk = CHUNK_SECONDS * FPS
    assert ids[0] < per_chunk <= ids[-1]
    direct = np.stack([read_frames(f"{p['ego_videos']}/{uid}/{f // per_chunk:04d}.mp4", [f % per_chunk])[0]
                       for f in ids])
    assert (ds.load(uid, start, end) == direct).all()
    i = len(ds) - 1
    batch = egocentric_collate([ds[0], ds[i]])
    assert batch["inputs"].shape == (2, 3, 4, 32, 32) and batch["data_samples"]["tokens"].shape == (2, 77)
    assert [m["index"] for m in batch["data_samples"]["meta"]] == [0, i] and "label" not in batch["data_samples"]


def test_avion_chunk_layout_reads_the_same_frames(toy_root, tmp_path):
    import shutil
    from egocentric_mamba.datasets import AVION_CHUNKS
    p = paths(toy_root)
    for uid in os.listdir(p["ego_videos"]):  # ROOT/<uid>.mp4/<chunk start s>.mp4
        for name in os.listdir(f"{p['ego_videos']}/{uid}"):
            os.makedirs(tmp_path / f"{uid}.mp4", exist_ok=True)
            shutil.copy(f"{p['ego_videos']}/{uid}/{name}", tmp_path / f"{uid}.mp4" / f"{int(name[:4]) * 15}.mp4")
    suite = build("Ego4DNarrationDataset", ann_file=p["pkl"], video_root=p["ego_videos"], training=False)
    avion = build("Ego4DNarrationDataset", ann_file=p["pkl"], video_root=str(tmp_path), training=False,
                  chunk_template=AVION_CHUNKS)
    assert avion.videos.num_frames == suite.videos.num_frames
    assert all(torch.equal(avion[i]["inputs"], suite[i]["inputs"]) for i in range(0, len(suite), 5))


def test_ek100_mir_clips_and_fine_tuning_captions(toy_root, tokenizer):
    from common.io import load_data_pickle
    p = paths(toy_root)
    test = build("EK100MIRDataset", ann_file=p["mir_test"], sentence_file=p["sent_test"], video_root=p["ek_videos"],
                 relevancy_file=p["rel_test"])
    assert test.metainfo == dict(ann_file=p["mir_test"], sentence_file=p["sent_test"], relevancy_file=p["rel_test"])
    s = test[1]
    assert s["data_samples"]["meta"] == dict(narration_id=test.segments[1].narration_id, index=1,
                                             caption=test.segments[1].narration)
    assert s["inputs"].shape == (3, 4, 32, 32)
    train = build("EK100MIRDataset", ann_file=p["mir_train"], sentence_file=p["sent_train"],
                  video_root=p["ek_videos"], relevancy_file=p["rel_train"], clip_length=16, training=True)
    relevancy = load_data_pickle(p["rel_train"])
    torch.manual_seed(0)
    drawn = set()
    for _ in range(12):
        caption = train[0]["data_samples"]["meta"]["caption"]
        drawn.add(caption)
        assert relevancy[0, train.sentences.index(caption)] > 0.1
    assert len(drawn) > 1 and train[0]["inputs"].shape == (3, 16, 32, 32)
    with pytest.raises(ValueError, match="give relevancy_file"):
        build("EK100MIRDataset", ann_file=p["mir_train"], sentence_file=p["sent_train"], video_root=p["ek_videos"],
              training=True)


def test_ek100_actions_use_the_sorted_string_label_map(toy_root):
    p = paths(toy_root)
    ds = build("EK100ActionDataset", ann_file=p["val"], label_files=[p["train"], p["val"]], video_root=p["ek_videos"])
    names = ds.metainfo["actions"]
    train = build("EK100ActionDataset", ann_file=p["train"], label_files=[p["train"], p["val"]],
                  video_root=p["ek_videos"])
    assert list(names) == sorted({f"{s.verb_class}:{s.noun_class}" for s in ds.segments + train.segments})
    for i in (0, 3):
        seg, s = ds.segments[i], ds[i]
        assert names[s["data_samples"]["label"]] == f"{seg.verb_class}:{seg.noun_class}"
        assert s["data_samples"]["meta"] == dict(narration_id=seg.narration_id, index=i,
                                                 label=s["data_samples"]["label"])
    from egocentric_mamba.datasets import egocentric_collate
    batch = egocentric_collate([ds[0], ds[3]])
    assert batch["data_samples"]["label"].tolist() == [ds.labels[0], ds.labels[3]]
    assert batch["inputs"].shape == (2, 3, 16, 32, 32)


def test_egoschema_prompts_and_sampling(toy_root, tokenizer):
    p = paths(toy_root)
    uniform = build("EgoSchemaDataset", ann_file=p["questions"], video_root=p["es_videos"])
    prefix = build("EgoSchemaDataset", ann_file=p["questions"], video_root=p["es_videos"], sampling="prefix")
    question = json.load(open(p["questions"]))[0]
    s = uniform[0]
    assert s["inputs"].shape == (3, 16, 32, 32) and s["data_samples"]["meta"] == dict(q_uid=question["q_uid"], index=0)
    prompts = [f"Is it '{question[f'option {k}'].lower()}'" for k in range(5)]
    assert torch.equal(s["data_samples"]["tokens"], tokenizer(prompts))
    assert uniform.clip_frames(150) == [4, 14, 23, 32, 42, 51, 60, 70, 79, 89, 98, 107, 117, 126, 135, 145]
    assert prefix.clip_frames(150) == list(range(16))  # the first 16 frames
    assert prefix.clip_frames(10) == uniform.clip_frames(10) == [int((k + 0.5) * 10 / 16) for k in range(16)]
    assert not torch.equal(prefix[0]["inputs"], s["inputs"])
    with pytest.raises(ValueError, match="sampling must be one of"):
        build("EgoSchemaDataset", ann_file=p["questions"], video_root=p["es_videos"], sampling="dense")


# ---------------------------------------------------------------------------------------------------------
# reader and loader errors, each naming the file

OFFICIAL = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
            "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes")


def ek_csv(path, rows, header=OFFICIAL):
    """rows: (narration_id, video_id, start, stop, narration, verb_class, noun_class)"""
    lines = [header]
    for nid, vid, start, stop, narration, verb, noun in rows:
        lines.append(f"{nid},P01,{vid},00:00:00.000,{start},{stop},0,0,{narration},v,{verb},n,{noun},['n'],[{noun}]")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_ek100_csvs_read_by_column_name(tmp_path):
    from common.checks import InputError
    from egocentric_mamba.annotations import ActionLabels, read_ek100_segments
    rows = [("P01_1_0", "P01_1", "00:00:01.50", "00:00:02.25", "take plate", 0, 10),
            ("P01_1_1", "P01_1", "00:01:00.00", "00:01:03.00", "put plate", 0, 2)]
    plain = read_ek100_segments(ek_csv(tmp_path / "a.csv", rows))
    uid = tmp_path / "b.csv"  # a leading uid column, as some copies carry: every position shifts, no name does
    ek_csv(uid, rows, header="uid," + OFFICIAL)
    uid.write_text("\n".join([uid.read_text().split("\n")[0]] + [f"{i},{line}" for i, line in enumerate(
        (tmp_path / "a.csv").read_text().split("\n")[1:-1])]) + "\n")
    assert read_ek100_segments(str(uid)) == plain
    assert (plain[0].start, plain[0].stop, plain[1].start, plain[0].action) == (1.5, 2.25, 60.0, "0:10")
    labels = ActionLabels.from_csvs([str(tmp_path / "a.csv")])
    assert labels.names == ("0:10", "0:2") and labels.verbs.tolist() == [0, 0] and labels.nouns.tolist() == [10, 2]
    (tmp_path / "c.csv").write_text(OFFICIAL.replace(",verb_class", "") + "\n")
    with pytest.raises(InputError, match=r"c.csv: EK100 segment csv lacks the column\(s\) \['verb_class'\]"):
        read_ek100_segments(str(tmp_path / "c.csv"))
    bad = ek_csv(tmp_path / "d.csv", [("x", "v", "00:00:05.00", "00:00:04.00", "n", 0, 1)])
    with pytest.raises(InputError, match=r"d.csv:2: x: segment: end 4 is before start 5"):
        read_ek100_segments(bad)
    bad = ek_csv(tmp_path / "e.csv", [("x", "v", "5 s", "00:00:06.00", "n", 0, 1)])
    with pytest.raises(InputError, match=r"e.csv:2: expected a timestamp HH:MM:SS.ff, found '5 s'"):
        read_ek100_segments(bad)
    bad = ek_csv(tmp_path / "f.csv", rows[:1] * 2)
    with pytest.raises(InputError, match=r"f.csv:3: narration_id 'P01_1_0' appears twice"):
        read_ek100_segments(bad)
    with pytest.raises(InputError, match=r"action map: expected distinct 'verb:noun' strings in sorted order"):
        ActionLabels(["0:2", "0:10"], "action map")


def test_sentence_csv_headers_and_relevancy_checks(tmp_path):
    import pickle
    import numpy as np
    from common.checks import InputError
    from egocentric_mamba.annotations import read_relevancy, read_sentences, sentence_columns
    for header in ("narration_id,narration", "index,sentence", "index,narration,verb_class,noun_classes,verb,nouns"):
        extra = ",0,[2],put,['plate']" if header.count(",") > 1 else ""
        (tmp_path / "s.csv").write_text(header + "\nP01_1_1,put plate" + extra + "\n")
        assert read_sentences(str(tmp_path / "s.csv")) == (["P01_1_1"], ["put plate"])
    (tmp_path / "s.csv").write_text("id,text\nP01_1_1,put plate\n")
    with pytest.raises(InputError, match=r"s.csv: expected exactly one of the columns \['narration_id', 'index'\]"):
        read_sentences(str(tmp_path / "s.csv"))
    assert sentence_columns(["a", "b", "a", "c"], ["c", "a"], "clips.csv", "s.csv").tolist() == [3, 0]
    with pytest.raises(InputError, match=r"s.csv: 1 sentence id\(s\) name no clip of clips.csv, e.g. \['z'\]"):
        sentence_columns(["a", "b"], ["a", "z"], "clips.csv", "s.csv")
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(np.ones((3, 2))))
    assert read_relevancy(str(tmp_path / "r.pkl"), 3, 2, "clips.csv", "s.csv").shape == (3, 2)
    with pytest.raises(InputError, match=r"r.pkl: relevancy matrix of shape \(3, 2\), but clips.csv lists 4 clips and "
                                         r"s.csv 2 sentences"):
        read_relevancy(str(tmp_path / "r.pkl"), 4, 2, "clips.csv", "s.csv")
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(np.full((3, 2), 1.5)))
    with pytest.raises(InputError, match=r"r.pkl: relevancy values outside \[0, 1\]"):
        read_relevancy(str(tmp_path / "r.pkl"), 3, 2, "clips.csv", "s.csv")
    (tmp_path / "r.pkl").write_bytes(pickle.dumps({"matrix": [[1.0]]}))
    with pytest.raises(InputError, match=r"r.pkl: expected a numeric relevancy matrix, found a dict"):
        read_relevancy(str(tmp_path / "r.pkl"), 1, 1, "clips.csv", "s.csv")


def test_ego4d_pickle_errors_name_the_entry(tmp_path):
    import pickle
    from common.checks import InputError
    from egocentric_mamba.annotations import read_ego4d_narrations
    path = tmp_path / "n.pkl"
    cases = [([("u", 1.0, 2.0, "#C C takes")], None),
             ([("u", 1.0, 2.0, ["a", "b"], "extra field")], None),
             ([("u", 1.0, 2.0, "ok"), ("u", 3.0, 2.0, "x")],
              r"n.pkl: entry 1 \(u\): narration clip: end 2 is before start 3"),
             ([("u", 1.0, 2.0, 7)], r"n.pkl: entry 0: expected a narration string or a list of strings, found 7"),
             ([("u", 1.0, 2.0, [])], r"n.pkl: entry 0: expected a narration string or a non-empty list of strings"),
             ([("u", "1", 2.0, "x")], r"n.pkl: entry 0: expected start and end seconds as numbers"),
             ([("u", 1.0, 2.0)], r"n.pkl: entry 0: expected a \(video_uid, start_s, end_s, narration, ...\) tuple"),
             ({"u": 1}, r"n.pkl: expected a non-empty list of \(video_uid, start_s, end_s, narration\) tuples")]
    for entries, error in cases:
        path.write_bytes(pickle.dumps(entries))
        if error is None:
            assert read_ego4d_narrations(str(path))[0][:3] == ("u", 1.0, 2.0)
        else:
            with pytest.raises(InputError, match=error):
                read_ego4d_narrations(str(path))


def chunk_video(directory, seconds, fps=30):
    """Chunk files ROOT/<video>/%04d.mp4 of a 32 x 32 video of `seconds`, frame i of brightness i % 250."""
    import av
    import numpy as np
    os.makedirs(directory, exist_ok=True)
    total = int(seconds * fps)
    for k in range(0, total, 15 * fps):
        with av.open(os.path.join(directory, f"{k // (15 * fps):04d}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
            for i in range(k, min(total, k + 15 * fps)):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i % 250, np.uint8), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())


def test_chunked_videos_are_probed_before_the_first_epoch(tmp_path):
    import pickle
    import warnings
    from common.checks import InputError
    root = tmp_path / "videos"
    chunk_video(root / "short", 2.0)  # 60 frames, one chunk
    ann = tmp_path / "n.pkl"

    def dataset(entries):
        ann.write_bytes(pickle.dumps(entries))
        return build("Ego4DNarrationDataset", ann_file=str(ann), video_root=str(root), clip_length=4, training=False)

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert dataset([("short", 0.0, 1.0, "a")]).videos.num_frames == {"short": 60}
    with pytest.warns(UserWarning, match=r"n.pkl: 1 of 2 clips end after their video's last frame; they end at that"):
        ds = dataset([("short", 0.0, 1.0, "a"), ("short", 1.0, 9.0, "b")])
    assert ds.videos.clip_frames("short", 1.0, 9.0, 4, False) == [33, 40, 48, 55]  # frames [30, 59]: 59 the last
    assert ds[1]["inputs"].shape == (3, 4, 32, 32)
    with pytest.raises(InputError, match=r"n.pkl: entry 1 starts at 2.5 s, after the last frame \(1.96667 s\) of video "
                                         r"'short' \(60 frames in .*short/0000.mp4"):
        dataset([("short", 0.0, 1.0, "a"), ("short", 2.5, 3.0, "b")])
    with pytest.raises(FileNotFoundError, match=r"videos/gone/0000.mp4: first chunk of video 'gone' not found"):
        dataset([("gone", 0.0, 1.0, "a")])
    chunk_video(root / "pal", 1.0, fps=25)
    with pytest.raises(InputError, match=r"pal/0000.mp4: 25 fps; chunked videos are addressed at 30 fps"):
        dataset([("pal", 0.0, 0.5, "a")])
    chunk_video(root / "long", 17.0)  # chunk 0000 (450 frames) and 0001 (60)
    (root / "long" / "0000.mp4").write_bytes((root / "long" / "0000.mp4").read_bytes()[:300])
    ds = dataset([("long", 16.0, 16.5, "fine"), ("long", 1.0, 2.0, "in the broken chunk")])
    assert ds[0]["inputs"].shape == (3, 4, 32, 32)
    with pytest.raises(InputError, match=r"long/0000.mp4: "):  # named at first read, never a substitute sample
        ds[1]


def test_mir_and_action_data_set_errors(tmp_path):
    import pickle
    import numpy as np
    from common.checks import InputError
    chunk_video(tmp_path / "videos" / "P01_1", 4.0)
    rows = [("P01_1_0", "P01_1", "00:00:00.50", "00:00:01.50", "take plate", 0, 2),
            ("P01_1_1", "P01_1", "00:00:02.00", "00:00:03.00", "put plate", 1, 2)]
    clips = ek_csv(tmp_path / "clips.csv", rows)
    (tmp_path / "s.csv").write_text("index,sentence\nP01_1_0,take plate\nP01_1_1,put plate\n")
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(np.array([[1.0, 0.5], [0.5, 1.0]])))
    kw = dict(ann_file=clips, sentence_file=str(tmp_path / "s.csv"), video_root=str(tmp_path / "videos"),
              relevancy_file=str(tmp_path / "r.pkl"), training=True)
    assert len(build("EK100MIRDataset", **kw)) == 2
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(np.array([[1.0, 0.5], [0.1, 0.0]])))
    with pytest.raises(InputError, match=r"r.pkl: 1 clip\(s\) of .*clips.csv have no sentence with relevancy > 0.1, "
                                         r"e.g. \['P01_1_1'\]"):
        build("EK100MIRDataset", **kw)
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(np.ones((2, 3))))
    with pytest.raises(InputError, match=r"r.pkl: relevancy matrix of shape \(2, 3\), but .*clips.csv lists 2 clips"):
        build("EK100MIRDataset", **kw)
    other = ek_csv(tmp_path / "other.csv", rows[:1])
    with pytest.raises(InputError, match=r"clips.csv: segment 'P01_1_1' has action '1:2', which is not in the label "
                                         r"map \(1 actions\)"):
        build("EK100ActionDataset", ann_file=clips, label_files=[other], video_root=str(tmp_path / "videos"))


def test_egoschema_question_file_errors(tmp_path):
    from common.checks import InputError
    from egocentric_mamba.annotations import read_egoschema_questions
    from egocentric_mamba.toy import write_mp4
    import numpy as np
    options = {f"option {k}": f"C does {k}" for k in range(5)}
    (tmp_path / "q.json").write_text(json.dumps([dict(q_uid="a", google_drive_id="x", **options)]))  # no 'question'
    assert read_egoschema_questions(str(tmp_path / "q.json"))[0].question is None
    with pytest.raises(FileNotFoundError, match=r"videos/a.mp4: video not found"):
        build("EgoSchemaDataset", ann_file=str(tmp_path / "q.json"), video_root=str(tmp_path / "videos"))
    write_mp4(str(tmp_path / "videos" / "a.mp4"), np.zeros((20, 32, 32, 3), np.uint8))
    ds = build("EgoSchemaDataset", ann_file=str(tmp_path / "q.json"), video_root=str(tmp_path / "videos"))
    assert ds.num_frames == [20]
    for items, error in ([[dict(q_uid="a", **options)] * 2, r"q.json: question 1: q_uid 'a' appears twice"],
                         [[dict(q_uid="a", **{k: v for k, v in options.items() if k != "option 4"})],
                          r"q.json: question 0 \(a\): expected string 'option 0' .. 'option 4'"],
                         [{"a": options}, r"q.json: expected a non-empty list of question objects"]):
        (tmp_path / "q.json").write_text(json.dumps(items))
        with pytest.raises(InputError, match=error):
            read_egoschema_questions(str(tmp_path / "q.json"))
