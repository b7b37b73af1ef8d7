"""The toy videos (real H.264 files in the Kinetics list format, classes only the frames' order tells), mmaction2's
pipelines on them (train views, multi-view testing), the EPIC-Kitchens reader, the metric's prediction file against
videomamba_st.evaluate, and feature extraction on the toy videos."""
import json
import os

import numpy as np
import pytest
import torch

import videomamba_st  # noqa: F401
from common.engine import DATASETS, load_config
from videomamba_st import toy
from videomamba_st.evaluate import main as evaluate_main
from videomamba_st.metrics import VideoClassificationMetric, classification_scores, read_predictions, \
    write_predictions

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "videomamba_st", "configs")


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setattr(toy, "VIDEOS_PER_CLASS", {"train": 1, "val": 1})
    root = str(tmp_path_factory.mktemp("toy") / "videomamba_st")
    toy.make_toy_data(root, seed=0)
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def toy_dataset(root, split, config="toy/vit_joint.py"):
    cfg = load_config(os.path.join(CONFIGS, config))
    loader = cfg.train_dataloader if split == "train" else cfg.val_dataloader
    dataset = dict(loader.dataset, ann_file=f"{root}/{split}_list_videos.txt",
                   data_prefix=dict(video=f"{root}/videos_{split}"))
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope("mmaction"):
        return DATASETS.build(dataset)


def test_toy_videos_are_h264_in_the_kinetics_list_format(toy_root):
    import av
    lines = open(f"{toy_root}/train_list_videos.txt").read().split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(toy.CLASSES)
    names, labels = zip(*(line.split() for line in lines[:-1]))
    assert sorted(int(y) for y in labels) == list(range(len(toy.CLASSES)))
    assert open(f"{toy_root}/label_map.txt").read().split() == list(toy.CLASSES)
    with av.open(f"{toy_root}/videos_train/{names[0]}") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == toy.FRAMES and frames[0].shape == (toy.SIZE, toy.SIZE, 3)


def test_toy_class_is_the_order_of_frames_not_any_frame():
    rng = np.random.default_rng(0)
    label = toy.CLASSES.index("red-green-blue/right")
    video = toy.render(label, rng).astype(float)
    background = np.median(video.reshape(toy.FRAMES, -1, 3), axis=1)        # the square covers 1/16 of a frame
    assert background[0].argmax() == 0 and background[15].argmax() == 1 and background[-1].argmax() == 2
    # the square: its bright pixels move right by SPEED per frame, wrapping around
    bright = video.min(-1) > 170
    assert bright[0].sum() == toy.SQUARE ** 2
    assert (np.roll(bright[0], int(8 * toy.SPEED), axis=1) == bright[8]).mean() > 0.99
    # every colour fills about a third of every video: the mean frame colour is the same under every class
    means = {c: np.mean([toy.render(toy.CLASSES.index(c), rng).mean((0, 1, 2)) for _ in range(10)], 0)
             for c in ("red-green-blue/right", "blue-green-red/left")}
    assert np.abs(means["red-green-blue/right"] - means["blue-green-red/left"]).max() < 8


def test_train_pipeline_gives_one_8_frame_32px_view(toy_root):
    item = toy_dataset(toy_root, "train")[0]
    assert item["inputs"].shape == (1, 3, 8, 32, 32) and item["inputs"].dtype == torch.uint8
    assert item["data_samples"].gt_label.item() == 0


def test_test_pipeline_gives_2_clips_x_3_crops(toy_root):
    dataset = toy_dataset(toy_root, "val")
    item = dataset[0]
    assert item["inputs"].shape == (6, 3, 8, 32, 32)
    assert item["data_samples"].metainfo["filename"].endswith("val_0000.mp4")
    # the 3 crops of a clip are the left, right and middle 32 columns of the 36-wide frame
    crops = item["inputs"][:3].float()
    assert not torch.equal(crops[0], crops[1])
    single = toy_dataset(toy_root, "val", config="toy/single_frame.py")[0]
    assert single["inputs"].shape == (6, 3, 1, 32, 32)


def write_epic(tmp_path, rows):
    header = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
              "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n")
    path = tmp_path / "EPIC_100_train.csv"
    path.write_text(header + "".join(rows))
    return str(path)


def test_epic_kitchens_segments_sample_inside_their_timestamps(tmp_path):
    video_dir = tmp_path / "P01" / "videos"
    video_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    toy.write_mp4(str(video_dir / "P01_01.MP4"), toy.render(0, rng), fps=8)     # 32 frames at 8 fps: 4 s
    ann = write_epic(tmp_path, [
        'P01_01_0,P01,P01_01,00:00:00.00,00:00:01.00,00:00:02.50,60,150,"open tap",open,3,tap,7,"[\'tap\']",[7]\n',
        'P01_01_1,P01,P01_01,00:00:00.00,00:00:03.00,00:00:04.00,180,240,"wash",wash,2,hand,11,"[\'hand\']",[11]\n'])
    cfg = load_config(os.path.join(CONFIGS, "epic_kitchens100_noun_timesformer.py"))
    pipeline = [dict(type="DecordInit"), dict(type="TrimToSegment"),
                dict(type="UniformSample", clip_len=4, num_clips=1, test_mode=True)]
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope("mmaction"):
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, ann_file=ann, pipeline=pipeline,
                                      data_prefix=dict(video=str(tmp_path))))
    assert dataset.label == "noun" and len(dataset) == 2
    first, second = dataset[0], dataset[1]
    assert first["label"] == 7 and second["label"] == 11
    assert first["frame_inds"].min() >= 8 and first["frame_inds"].max() < 20       # 1.0-2.5 s at 8 fps
    assert second["frame_inds"].min() >= 24 and second["frame_inds"].max() < 32


def test_epic_kitchens_bad_rows_name_the_file_and_line(tmp_path):
    ann = write_epic(tmp_path, ['P01_01_0,P01,P01_01,00:00:00.00,00:00:02.00,00:00:01.00,0,0,"x",x,3,y,7,"[]",[]\n'])
    from videomamba_st.datasets import EpicKitchensDataset
    with pytest.raises(ValueError, match=r"EPIC_100_train.csv: line 2: .*empty"):
        EpicKitchensDataset(ann, pipeline=[])
    ann = write_epic(tmp_path, ['P01_01_0,P01,P01_01,00:00:00.00,00:00:01.00,00:00:02.00,0,0,"x",x,97,y,7,"[]",[]\n'])
    with pytest.raises(ValueError, match=r"line 2: verb_class 97 outside the 97 classes \[0, 97\)"):
        EpicKitchensDataset(ann, pipeline=[])


def test_metric_file_and_evaluate_cli_agree_with_hand_worked_scores(tmp_path, capsys):
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    labels = np.array([0, 1, 1, 2])
    # top-1: videos 0 and 3 -> 0.5; top-2: all but video 1 (its label 1 is 2nd) -> all 4; mean class: (1 + 0 + 1) / 3
    expected = {"top1": 0.5, "top2": 1.0, "mean1": 2 / 3}
    assert classification_scores(scores, labels, topk=(1, 2)) == pytest.approx(expected)
    metric = VideoClassificationMetric(out_dir=str(tmp_path), metric_options=dict(top_k_accuracy=dict(topk=(1, 2))))
    samples = [dict(pred_score=torch.tensor(s), gt_label=torch.tensor([y]), filename=f"v{i}.mp4")
               for i, (s, y) in enumerate(zip(scores, labels))]
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results) == pytest.approx(expected)
    names, read_labels, read_scores = read_predictions(str(tmp_path / "predictions.json"))
    assert names == [f"v{i}.mp4" for i in range(4)] and read_labels.tolist() == labels.tolist()
    np.testing.assert_allclose(read_scores, scores, atol=1e-6)
    evaluate_main([str(tmp_path / "predictions.json"), "--topk", "1", "2"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == pytest.approx(expected)


@pytest.mark.parametrize("broken, message", [
    (dict(num_classes=3, videos=[dict(filename="a", label=3, scores=[0, 0, 1])]), "outside"),
    (dict(num_classes=3, videos=[dict(filename="a", label=0, scores=[0, 1])]), "3 'scores'"),
    (dict(num_classes=3, videos=[dict(filename="a", label=0, scores=[0, 1, float("nan")])]), "NaN"),
    (dict(num_classes=3, videos=[dict(filename="a", label=0, scores=[0, 1, 0])] * 2), "twice"),
    (dict(num_classes=3, videos=[]), "at least one video"),
])
def test_malformed_predictions_are_refused(tmp_path, broken, message):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=message):
        read_predictions(str(path))


def test_metric_without_filenames_cannot_write_its_file(tmp_path):
    metric = VideoClassificationMetric(out_dir=str(tmp_path))
    metric.process({}, [dict(pred_score=torch.tensor([0.9, 0.1]), gt_label=torch.tensor([0]))])
    with pytest.raises(ValueError, match="filename"):
        metric.compute_metrics(metric.results)
    write_predictions(str(tmp_path / "p.json"), ["a"], [1], np.array([[0.2, 0.8]]))
    assert read_predictions(str(tmp_path / "p.json"))[1].tolist() == [1]


def test_feature_extraction_writes_one_row_per_clip(toy_root, tmp_path):
    from common.engine import MODELS
    from tools.extract_features import main as extract_main
    config = os.path.join(CONFIGS, "toy/vivim.py")
    model = MODELS.build(load_config(config).model)
    checkpoint = str(tmp_path / "vivim.pth")
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    out = tmp_path / "features"
    extract_main([config, checkpoint, f"{toy_root}/videos_val", str(out), "--stride", "8", "--layout", "ct"])
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([f"val_{i:04d}.npy" for i in range(len(toy.CLASSES))] + ["features.json"])
    feats = np.load(out / "val_0000.npy")
    assert feats.shape == (64, 4)               # (C, T): clips at frames 0, 8, 16, 24 of 32, 8 frames each
    manifest = json.load(open(out / "features.json"))
    assert manifest["feat_stride"] == 8 and manifest["num_frames"] == 8 and manifest["fps"]["val_0000.mp4"] == 8
    # the last clip's features are the backbone's output on that clip through the test pipeline's centre crop
    from tools.extract_features import clip_pipeline
    pipeline = clip_pipeline(load_config(config).test_dataloader.dataset.pipeline)
    data = pipeline(dict(filename=f"{toy_root}/videos_val/val_0000.mp4", start_index=0, modality="RGB",
                         frame_inds=np.arange(24, 32), clip_len=8, frame_interval=1, num_clips=1, label=-1))
    model.eval()
    batch = model.data_preprocessor(dict(inputs=[data["inputs"]], data_samples=[data["data_samples"]]))
    with torch.no_grad():
        expected = model.backbone(batch["inputs"].flatten(0, 1))[0].numpy()
    np.testing.assert_allclose(feats[:, 3], expected, atol=1e-5)


def test_plot_predictions_draws_every_run_on_shared_videos(toy_root, tmp_path):
    from videomamba_st import TASK
    videos = sorted(os.listdir(f"{toy_root}/videos_val"))
    runs = {}
    for i, label in enumerate(("ViT joint", "ViViM")):
        work_dir = tmp_path / label.replace(" ", "_")
        work_dir.mkdir()
        scores = np.eye(len(toy.CLASSES))[np.roll(np.arange(len(videos)), i)]
        write_predictions(str(work_dir / "predictions.json"), [f"{toy_root}/videos_val/{v}" for v in videos],
                          list(range(len(videos))), scores)
        runs[label] = str(work_dir)
    cfg = load_config(os.path.join(CONFIGS, "toy/vit_joint.py"),
                      {"val_dataloader.dataset.ann_file": f"{toy_root}/val_list_videos.txt"})
    path = tmp_path / "predictions.png"
    TASK.plot_predictions(cfg, runs, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


# --- the toy set (videomamba_st.toy, as tools/make_toy_data.py writes it, one video per class) and mutations

def toy_list(toy_root, tmp_path, split, change):
    """A copy of the toy split's video list with `change(lines)` applied; -> its path."""
    lines = open(f"{toy_root}/{split}_list_videos.txt").read().splitlines()
    change(lines)
    path = tmp_path / f"{split}_list_videos.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def toy_dataset_from(root, ann_file, split):
    cfg = load_config(os.path.join(CONFIGS, "toy/vit_joint.py"))
    loader = cfg.train_dataloader if split == "train" else cfg.val_dataloader
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope("mmaction"):
        return DATASETS.build(dict(loader.dataset, ann_file=ann_file, data_prefix=dict(video=f"{root}/videos_{split}")))


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_label_equal_to_num_classes_is_an_error_naming_the_list_and_line(toy_root, tmp_path, split):
    """Before: training stopped with torch's 'Target 12 is out of bounds'; validation scored the video as wrong and
    wrote a predictions.json that videomamba_st.evaluate refuses."""
    def label_12(lines):
        lines[2] = lines[2].split()[0] + " 12"
    path = toy_list(toy_root, tmp_path, split, label_12)
    message = rf"{split}_list_videos.txt: line 3: label 12 outside the 12 classes \[0, 12\)"
    with pytest.raises(ValueError, match=message):
        toy_dataset_from(toy_root, path, split)


def test_a_video_listed_twice_or_a_line_without_label_is_an_error(toy_root, tmp_path):
    path = toy_list(toy_root, tmp_path, "val", lambda lines: lines.append(lines[0]))
    with pytest.raises(ValueError, match=r"line 13: video 'val_0000.mp4' listed again \(first on line 1\)"):
        toy_dataset_from(toy_root, path, "val")
    path = toy_list(toy_root, tmp_path, "val", lambda lines: lines.__setitem__(1, lines[1].split()[0]))
    with pytest.raises(ValueError, match=r"line 2: expected '<video> <class id>', found 'val_0001.mp4'"):
        toy_dataset_from(toy_root, path, "val")


def test_every_listed_video_is_opened_at_start_up_and_a_failure_names_line_and_file(toy_root, tmp_path):
    """Before: decord's 'Error reading N bytes' at the video's first read, for a validation video after the whole
    training. Now building the validation data set (the runner does before the first epoch) fails."""
    import shutil
    import time
    videos = tmp_path / "videos_val"
    shutil.copytree(f"{toy_root}/videos_val", videos)
    start = time.perf_counter()
    dataset = toy_dataset_from(tmp_path, f"{toy_root}/val_list_videos.txt", "val")
    assert len(dataset) == 12 and time.perf_counter() - start < 10
    (videos / "val_0005.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(ValueError, match=r"val_list_videos.txt: line 6: .*videos_val/val_0005.mp4: cannot open"):
        toy_dataset_from(tmp_path, f"{toy_root}/val_list_videos.txt", "val")
    (videos / "val_0005.mp4").unlink()
    with pytest.raises(FileNotFoundError, match=r"line 6: .*val_0005.mp4: video not found"):
        toy_dataset_from(tmp_path, f"{toy_root}/val_list_videos.txt", "val")
    # a file that breaks after start-up: the pipeline's failure names it
    (videos / "val_0003.mp4").write_bytes((videos / "val_0004.mp4").read_bytes()[:300])
    with pytest.raises(ValueError, match=r"videos_val/val_0003.mp4: the pipeline failed on this video "
                                         r"\(RuntimeError: Error reading 300 bytes"):
        dataset[3]


def test_metric_refuses_a_label_outside_its_scores_and_non_finite_scores(tmp_path):
    metric = VideoClassificationMetric(out_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"v7.mp4: the model's classes: label 3 outside the 3 classes \[0, 3\)"):
        metric.process({}, [dict(pred_score=torch.tensor([0.2, 0.3, 0.5]), gt_label=torch.tensor([3]),
                                 filename="v7.mp4")])
    with pytest.raises(ValueError, match=r"v8.mp4: the model's scores hold NaN"):
        metric.process({}, [dict(pred_score=torch.tensor([0.2, float("nan"), 0.5]), gt_label=torch.tensor([0]),
                                 filename="v8.mp4")])


def epic_video(tmp_path, seconds=4):
    video_dir = tmp_path / "P01" / "videos"
    video_dir.mkdir(parents=True, exist_ok=True)
    toy.write_mp4(str(video_dir / "P01_01.MP4"), toy.render(0, np.random.default_rng(0))[:8 * seconds], fps=8)
    return str(video_dir / "P01_01.MP4")


def epic_row(narration, start, stop):
    return f'{narration},P01,P01_01,00:00:00.00,{start},{stop},0,0,"x",x,3,y,7,"[]",[]\n'


def test_an_epic_segment_after_its_video_ends_is_an_error_naming_line_and_video(tmp_path):
    """Before: TrimToSegment clamped its start to the last frame, and the segment trained on that frame repeated."""
    from videomamba_st.datasets import EpicKitchensDataset
    video = epic_video(tmp_path)                                               # 32 frames at 8 fps: 4 s
    ok = write_epic(tmp_path, [epic_row("P01_01_0", "00:00:01.00", "00:00:02.00"),
                               epic_row("P01_01_1", "00:00:03.50", "00:00:04.50")])  # 0.5 s past the end: rounding
    assert len(EpicKitchensDataset(ok, pipeline=[], data_prefix=dict(video=str(tmp_path)))) == 2
    late = write_epic(tmp_path, [epic_row("P01_01_0", "00:00:01.00", "00:00:02.00"),
                                 epic_row("P01_01_1", "00:00:06.00", "00:00:07.00")])
    with pytest.raises(ValueError, match=rf"EPIC_100_train.csv: line 3: segment \[6.0, 7.0\] s starts after the end of "
                                         rf"{video} \(32 frames at 8 fps, 4.00 s\)"):
        EpicKitchensDataset(late, pipeline=[], data_prefix=dict(video=str(tmp_path)))
    long = write_epic(tmp_path, [epic_row("P01_01_0", "00:00:03.00", "00:00:09.00")])
    with pytest.raises(ValueError, match=rf"line 2: video {video}: segment \[3.0, 9.0\] ends after the video's "
                                         r"duration 4 \(tolerance 1\)"):
        EpicKitchensDataset(long, pipeline=[], data_prefix=dict(video=str(tmp_path)))
    twice = write_epic(tmp_path, [epic_row("P01_01_0", "00:00:01.00", "00:00:02.00")] * 2)
    with pytest.raises(ValueError, match=r"line 3: narration_id 'P01_01_0' again \(first on line 2\)"):
        EpicKitchensDataset(twice, pipeline=[], data_prefix=dict(video=str(tmp_path)))
    from videomamba_st.datasets import TrimToSegment
    with pytest.raises(ValueError, match=r"P01_01.MP4: segment \[6.0, 7.0\] s starts at frame 48, after the video's"):
        TrimToSegment()(dict(filename=video, avg_fps=8.0, total_frames=32, start_second=6.0, stop_second=7.0))


def test_epic_predictions_are_keyed_by_narration_id_so_the_cli_reads_them(tmp_path, capsys):
    """Several segments share one video file: keyed by file name, the metric's predictions.json was refused by
    videomamba_st.evaluate ('videos listed twice')."""
    from videomamba_st.datasets import EpicKitchensDataset
    epic_video(tmp_path)
    ann = write_epic(tmp_path, [epic_row("P01_01_0", "00:00:00.50", "00:00:01.50"),
                                epic_row("P01_01_1", "00:00:02.00", "00:00:03.00")])
    cfg = load_config(os.path.join(CONFIGS, "epic_kitchens100_noun_timesformer.py"))
    pipeline = [dict(type="DecordInit"), dict(type="TrimToSegment"),
                dict(type="UniformSample", clip_len=2, num_clips=1, test_mode=True), dict(type="DecordDecode"),
                dict(type="FormatShape", input_format="NCTHW"), cfg.test_pipeline[-1]]
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope("mmaction"):
        dataset = DATASETS.build(dict(cfg.val_dataloader.dataset, ann_file=ann, pipeline=pipeline,
                                      data_prefix=dict(video=str(tmp_path))))
    samples = [dataset[i]["data_samples"] for i in range(2)]
    assert [s.metainfo["sample_id"] for s in samples] == ["P01_01_0", "P01_01_1"]
    metric = VideoClassificationMetric(out_dir=str(tmp_path))
    metric.process({}, [dict(pred_score=torch.tensor([0.9, 0.1]), gt_label=torch.tensor([0]), **s.metainfo)
                        for s in samples])
    metric.compute_metrics(metric.results)
    predictions = json.load(open(tmp_path / "predictions.json"))["videos"]
    assert [v["id"] for v in predictions] == ["P01_01_0", "P01_01_1"] and len({v["filename"] for v in predictions}) == 1
    evaluate_main([str(tmp_path / "predictions.json"), "--topk", "1"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"top1": 1.0, "mean1": 1.0}


def test_the_suites_comma_separated_lists_are_read_as_they_are(toy_root, tmp_path):
    """The Kinetics-400 configs read the suite's DATA_PATH/{train,val,test}.csv ("path,label", no header, its
    `--split ','`): the same videos and labels as mmaction2's "path label" list of the toy set."""
    lines = open(f"{toy_root}/train_list_videos.txt").read().splitlines()
    csv = tmp_path / "train.csv"
    csv.write_text("".join(line.replace(" ", ",") + "\n" for line in lines))
    cfg = load_config(os.path.join(CONFIGS, "kinetics400_vivim_tiny_16x224.py"))
    assert [getattr(cfg, f"{s}_dataloader").dataset.ann_file for s in ("train", "val", "test")] == \
        ["data/kinetics400/train.csv", "data/kinetics400/val.csv", "data/kinetics400/test.csv"]
    assert {getattr(cfg, f"{s}_dataloader").dataset.delimiter for s in ("train", "val", "test")} == {","}
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope("mmaction"):
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, ann_file=str(csv),
                                      data_prefix=dict(video=f"{toy_root}/videos_train")))
    items = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [(os.path.basename(d["filename"]), d["label"]) for d in items] == \
        [(name, int(label)) for name, label in (line.split() for line in lines)]
    assert type(dataset).__name__ == "RepeatAugVideoListDataset" and dataset.num_repeats == 2


def test_a_list_read_with_the_other_delimiter_says_so(toy_root, tmp_path):
    spaced = toy_list(toy_root, tmp_path, "val", lambda lines: None)
    cfg = load_config(os.path.join(CONFIGS, "kinetics400_vivim_tiny_16x224.py"))
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope("mmaction"):
        with pytest.raises(ValueError, match=r"val_list_videos.txt: line 1: expected '<video>,<class id>', found "
                                             r"'val_0000.mp4 \d+' \(delimiter=','; this line holds ' '\)"):
            DATASETS.build(dict(cfg.val_dataloader.dataset, ann_file=spaced,
                                data_prefix=dict(video=f"{toy_root}/videos_val")))
    commas = tmp_path / "val.csv"
    commas.write_text(open(spaced).read().replace(" ", ","))
    with pytest.raises(ValueError, match=r"val.csv: line 1: expected '<video> <class id>', found 'val_0000.mp4,\d+' "
                                         r"\(delimiter=' '; this line holds ','\)"):
        toy_dataset_from(toy_root, str(commas), "val")
