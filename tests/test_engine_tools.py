"""The generic tools as a user runs them, on the toy task (tests/engine_toy): dist_train.sh
(2 CPU processes, gloo) and compare.py's training runs in subprocesses; the thin CLIs
(make_toy_data.py, train.py --resume, test.py, compare.py itself) in process, to keep it fast."""
import json
import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import engine_toy

REPO = Path(__file__).resolve().parents[1]
CONFIGS = Path(engine_toy.__file__).parent / "configs"
TOY_ENV = {"OMP_NUM_THREADS": "1", "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run from an empty directory, single-threaded, the toy task importable by subprocesses."""
    monkeypatch.chdir(tmp_path)
    for key, value in TOY_ENV.items():
        monkeypatch.setenv(key, value)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(threads)


def tool(name, *args, monkeypatch):
    """Run tools/<name> in this process, as `python tools/<name> args...` would."""
    monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
    runpy.run_path(str(REPO / "tools" / name), run_name="__main__")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def logs(work_dir, pattern):
    """Contents of the files matching `pattern` under the newest run directory of `work_dir`."""
    run_dir = sorted(p for p in work_dir.iterdir() if p.is_dir())[-1]
    return "".join(p.read_text() for p in run_dir.glob(pattern))


def test_two_process_training_then_resume_then_test(workdir, monkeypatch):
    tool("make_toy_data.py", "engine_toy", "data/toy/engine_toy", monkeypatch=monkeypatch)
    work = workdir / "ddp"
    subprocess.run(["bash", REPO / "tools/dist_train.sh", CONFIGS / "toy_ddp.py", "2",
                    "--work-dir", work], env={**os.environ, "MASTER_PORT": str(free_port())},
                   check=True, capture_output=True, timeout=300)

    seen = [json.loads((work / f"samples_rank{r}.json").read_text()) for r in (0, 1)]
    for epoch in ("0", "1"):
        assert not set(seen[0][epoch]) & set(seen[1][epoch])  # each rank its own half
        assert sorted(seen[0][epoch] + seen[1][epoch]) == list(range(64))
    assert '"loss"' in logs(work, "vis_data/scalars.json")
    text_log = logs(work, "*.log")
    assert "Distributed training: True" in text_log
    # progress with ETA in training and validation (4 and 1 iterations per epoch per rank)
    assert "Epoch(train) [2][4/4]  lr:" in text_log and "Epoch(val) [2][1/1]    eta:" in text_log
    assert torch.load(work / "epoch_2.pth")["meta"]["epoch"] == 2

    tool("train.py", CONFIGS / "toy_ddp.py", "--work-dir", work, "--resume", "--cfg-options",
         "train_cfg.max_epochs=3", "experiment_name=resumed", monkeypatch=monkeypatch)
    trained = [line for line in map(json.loads, logs(work, "vis_data/scalars.json").splitlines())
               if "loss" in line]
    assert trained and {line["epoch"] for line in trained} == {3}  # continued, not restarted
    assert torch.load(work / "epoch_3.pth")["meta"]["epoch"] == 3

    tool("test.py", CONFIGS / "toy_ddp.py", work / "epoch_3.pth", "--work-dir", workdir / "test",
         "--cfg-options", "experiment_name=tested", monkeypatch=monkeypatch)
    assert "Epoch(test) [2/2]    acc:" in logs(workdir / "test", "*.log")


def test_clear_errors_for_missing_files(workdir, monkeypatch):
    with pytest.raises(SystemExit, match="checkpoint .*nope.pth not found"):
        tool("test.py", CONFIGS / "toy_narrow.py", workdir / "nope.pth", monkeypatch=monkeypatch)
    with pytest.raises(SystemExit, match="config file '.*nope.py' not found"):
        tool("train.py", workdir / "nope.py", monkeypatch=monkeypatch)
    with pytest.raises(SystemExit, match="no task package named 'nope'"):
        tool("make_toy_data.py", "nope", "out", monkeypatch=monkeypatch)


def test_compare_trains_each_config_and_reports(workdir, monkeypatch, capsys):
    tool("compare.py", "engine_toy", "--toy", "--epochs", "2", "--seeds", "2", "--out", "cmp",
         monkeypatch=monkeypatch)
    out = capsys.readouterr().out

    assert (workdir / "data/toy/engine_toy/train.npz").exists()  # created because missing
    result = json.loads((workdir / "cmp" / "compare.json").read_text())
    narrow, wide = result["records"]
    assert narrow["config"].endswith("toy_narrow.py") and wide["config"].endswith("toy_wide.py")
    # conv 8->16 (k=3) + linear 16->4, weights and biases; FLOPs: their multiply-adds, 16 steps
    assert narrow["params"] == 8 * 16 * 3 + 16 + 16 * 4 + 4
    if narrow["flops"] is not None:
        assert narrow["flops"] == 16 * (8 * 16 * 3 + 16 * 4)
    for record in (narrow, wide):
        seeds = [run["seed"] for run in record["runs"]]
        assert seeds == [0, 1]
        for run in record["runs"]:
            assert run["returncode"] == 0 and run["seconds_per_epoch"] > 0 and run["peak_mib"] > 50
            val = json.loads((Path(run["work_dir"]) / "val_metrics.json").read_text())
            assert run["metrics"]["acc"] == val["acc"] > 0.4  # chance is 0.25
            assert sorted(map(int, run["curves"]["loss"])) == [1, 2]  # the schedule scaled to 2 epochs
        # seeds 0 and 1 are different runs
        assert record["runs"][0]["metrics"] != record["runs"][1]["metrics"]
    accs = [r["metrics"]["acc"] for r in narrow["runs"]]
    mean, std = sum(accs) / 2, abs(accs[0] - accs[1]) / 2 ** 0.5
    assert f"| toy_narrow (baseline) | {mean:.2f} ± {std:.2f} |" in result["table"]
    report = (workdir / "cmp" / "report.md").read_text()
    assert result["table"] in report and result["table"] in out and "![curves](curves.png)" in report
    for figure in ("metrics.png", "curves.png"):
        assert (workdir / "cmp" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "report: cmp/report.md" in out
    assert "[4/4] toy_wide seed 1: epoch 2/2" in out  # live progress: job k of n, epoch


@pytest.fixture
def three_videos(tmp_path, monkeypatch):
    """Three toy videos (videomamba_st's toy set, 32 frames each) and a checkpoint of its toy ViViM."""
    from common.engine import MODELS, load_config
    from videomamba_st import toy
    monkeypatch.setattr(toy, "VIDEOS_PER_CLASS", {"val": 1})
    toy.make_toy_data(str(tmp_path / "toy"), seed=0)
    videos = tmp_path / "toy" / "videos_val"
    for extra in sorted(videos.iterdir())[3:]:
        extra.unlink()
    config = str(REPO / "videomamba_st/configs/toy/vivim.py")
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "vivim.pth")
    return config, str(tmp_path / "vivim.pth"), str(videos)


def test_extract_features_killed_and_rerun_keeps_every_record(three_videos, tmp_path, monkeypatch):
    import tools.extract_features as ef
    config, checkpoint, videos = three_videos
    out, extract, calls = tmp_path / "feats", ef.extract_video, []

    def killed_at_the_third(*args):
        calls.append(os.path.basename(args[2]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return extract(*args)
    monkeypatch.setattr(ef, "extract_video", killed_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        ef.main([config, checkpoint, videos, str(out), "--stride", "8"])
    assert not out.exists()  # built aside: complete or absent
    partial = tmp_path / ".feats.partial"
    assert sorted(json.loads((partial / "features.json").read_text())["fps"]) == ["val_0000.mp4", "val_0001.mp4"]
    ef.main([config, checkpoint, videos, str(out), "--stride", "8"])
    assert calls == ["val_0000.mp4", "val_0001.mp4", "val_0002.mp4", "val_0002.mp4"]  # only the unfinished one again
    manifest = json.loads((out / "features.json").read_text())
    assert manifest["fps"] == {f"val_000{i}.mp4": 8 for i in range(3)}
    assert sorted(p.name for p in out.iterdir()) == ["features.json", "val_0000.npy", "val_0001.npy", "val_0002.npy"]
    assert not partial.exists()


def test_extract_features_never_mixes_settings(three_videos, tmp_path, capsys):
    from tools.extract_features import main as extract_main
    config, checkpoint, videos = three_videos
    out = tmp_path / "feats"
    extract_main([config, checkpoint, videos, str(out), "--stride", "8"])
    before = np.load(out / "val_0000.npy")
    extract_main([config, checkpoint, videos, str(out), "--stride", "8"])
    assert "features of all 3 videos already in" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"holds features extracted with other settings \(feat_stride: 8 there, 4 now\)"
                                         r"; they are never mixed: extract into another OUT_DIR, or pass --redo"):
        extract_main([config, checkpoint, videos, str(out), "--stride", "4"])
    retrained = torch.load(checkpoint)
    retrained["state_dict"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in retrained["state_dict"].items()}
    torch.save(retrained, checkpoint)  # the same path, other weights
    with pytest.raises(SystemExit, match="other settings \\(checkpoint_sha256: "):
        extract_main([config, checkpoint, videos, str(out), "--stride", "8"])
    assert np.array_equal(np.load(out / "val_0000.npy"), before)  # untouched
    extract_main([config, checkpoint, videos, str(out), "--stride", "4", "--redo"])
    manifest = json.loads((out / "features.json").read_text())
    assert manifest["feat_stride"] == 4 and sorted(manifest["fps"]) == [f"val_000{i}.mp4" for i in range(3)]
    assert np.load(out / "val_0000.npy").shape == (7, 64)  # clips at 0, 4, ..., 24 of 32 frames
    nan = torch.load(checkpoint)
    next(v for v in nan["state_dict"].values() if v.is_floating_point()).fill_(float("nan"))
    torch.save(nan, checkpoint)
    with pytest.raises(SystemExit, match="holds NaN or Inf weights"):
        extract_main([config, checkpoint, videos, str(tmp_path / "other")])


def test_a_toy_set_killed_while_written_is_never_taken_as_whole(workdir, monkeypatch):
    import engine_toy.data
    savez, calls = np.savez, []

    def killed_at_the_second_file(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return savez(*args, **kwargs)
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(engine_toy.data.np, "savez", killed_at_the_second_file)
        tool("compare.py", "engine_toy", "--toy", "--epochs", "1", "--out", "cmp", monkeypatch=monkeypatch)
    assert not (workdir / "data/toy/engine_toy").exists() and os.listdir(workdir / "data/toy") == []
    tool("make_toy_data.py", "engine_toy", "data/toy/engine_toy", monkeypatch=monkeypatch)
    assert sorted(os.listdir(workdir / "data/toy/engine_toy")) == ["train.npz", "val.npz"]
    with pytest.raises(SystemExit, match="data/toy/engine_toy exists and is not empty"):
        tool("make_toy_data.py", "engine_toy", "data/toy/engine_toy", monkeypatch=monkeypatch)
    (workdir / "cmp" / "report.md").write_text("an earlier comparison")
    with pytest.raises(SystemExit):
        tool("compare.py", "engine_toy", "--toy", "--out", "cmp", monkeypatch=monkeypatch)


def test_a_run_killed_while_logging_still_reports_and_nproc_must_be_a_number(tmp_path):
    from tools.compare import read_scalars
    log = tmp_path / "20260101_000000" / "vis_data"
    log.mkdir(parents=True)
    (log / "scalars.json").write_text('{"loss": 1.0, "epoch": 1}\n{"acc": 0.5, "step": 1}\n{"loss": 0.')
    assert read_scalars(str(tmp_path)) == [{"loss": 1.0, "epoch": 1}, {"acc": 0.5, "step": 1}]
    (log / "scalars.json").write_text('{"loss": 1.0, "epoch": 1}\n{"acc": 0.\n{"loss": 0.5, "epoch": 2}\n')
    with pytest.raises(ValueError, match="scalars.json: line 2 is not a JSON record"):
        read_scalars(str(tmp_path))
    proc = subprocess.run(["bash", REPO / "tools/dist_train.sh", CONFIGS / "toy_ddp.py", "train_cfg.max_epochs=1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "NPROC 'train_cfg.max_epochs=1' is not a positive number" in proc.stderr
