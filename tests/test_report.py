"""The comparison report's numbers (means, spreads, differences from the baseline), the schedule
scaling behind `--epochs`, and each landed task's drawing of predictions."""
import json
import math

import pytest

from common.engine import load_config, scale_schedule
from common.report import difference, metrics_table, read_curves, summarize


def record(name, accs, seconds=2.0):
    return dict(name=name, config=f"{name}.py", params=1000, flops=None, runs=[
        dict(seed=i, returncode=0, metrics={"acc": a}, seconds_per_epoch=seconds, peak_mib=100.0, work_dir="",
             curves={}) for i, a in enumerate(accs)])


def test_table_marks_the_baseline_and_whether_a_difference_is_within_the_spread():
    records = [record("base", [80.0, 82.0]), record("close", [81.0, 83.0]), record("far", [90.0, 90.5])]
    table = metrics_table(records, ["acc"])
    # std of [80, 82] is sqrt(2); difference of close: +1 <= sqrt(2 + 2) = 2 -> within ('~')
    assert "| base (baseline) | 81.00 ± 1.41 |" in table
    assert "| close | 82.00 ± 1.41 (+1.00 ~) |" in table
    assert "| far | 90.25 ± 0.35 (+9.25) |" in table
    assert difference((82.0, math.sqrt(2)), (81.0, math.sqrt(2))) == (1.0, True)
    assert difference((82.0, None), (81.0, None)) == (1.0, None)  # one seed: no judgement


def test_failed_runs_are_counted_and_left_out_of_the_means():
    failed = record("v", [70.0, 99.0])
    failed["runs"][1]["returncode"] = 1
    assert summarize(failed, ["acc"])["acc"] == (70.0, None)
    assert "| v (1 of 2 runs failed) | 70.00 (-11.00) |" in metrics_table([record("b", [81.0]), failed], ["acc"])


def test_curves_come_from_the_scalars_of_training_and_validation():
    scalars = [dict(loss=2.0, epoch=1, iter=1, step=1), dict(loss=1.0, epoch=1, iter=2, step=2),
               dict(acc=0.5, step=1), dict(loss=0.5, epoch=2, iter=3, step=3), dict(acc=0.75, step=2),
               dict(epoch_seconds=3.0, step=2)]
    assert read_curves(scalars, ["acc"]) == {"acc": {1: 0.5, 2: 0.75}, "loss": {1: 1.5, 2: 0.5}}


def test_scale_schedule_shortens_the_whole_schedule():
    cfg = load_config("actionmamba/configs/toy/actionformer.py")  # warm-up 0-2, cosine 2-12, val every 3
    short = scale_schedule(cfg, 4)
    assert short.train_cfg.max_epochs == 4 and short.train_cfg.val_interval == 1
    warmup, cosine = short.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 1) and (cosine.begin, cosine.end, cosine.T_max) == (1, 4, 3)
    assert short.default_hooks.checkpoint.interval == 4
    long = scale_schedule(cfg, 24)
    warmup, cosine = long.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end, cosine.T_max, long.train_cfg.val_interval) == (4, 4, 24, 20, 6)
    assert cfg.train_cfg.max_epochs == 12  # the original is left alone

    plateau = scale_schedule(load_config("asmamba/configs/toy/asformer_toy.py"), 10)  # 20 epochs, patience 3
    assert plateau.param_scheduler[0].patience == 2 and "begin" not in plateau.param_scheduler[0]
    with pytest.raises(ValueError, match="positive integer"):
        scale_schedule(cfg, 0)


def test_asmamba_draws_segmentation_bars(tmp_path):
    from asmamba import TASK
    from asmamba.metrics import write_prediction
    root = tmp_path / "toy"
    TASK.make_toy_data(str(root))
    cfg = load_config("asmamba/configs/toy/asformer_toy.py", {"test_dataloader.dataset.data_root": str(root)})
    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    for video in (root / "splits" / "test.split1.bundle").read_text().split():
        video = video.removesuffix(".txt")
        write_prediction(str(run / "predictions" / video), (root / "groundTruth" / f"{video}.txt").read_text().split())
    TASK.plot_predictions(cfg, {"perfect": str(run)}, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_actionmamba_draws_detection_timelines(tmp_path):
    from actionmamba import TASK
    root = tmp_path / "toy"
    TASK.make_toy_data(str(root))
    cfg = load_config("actionmamba/configs/toy/actionformer.py",
                      {"val_dataloader.dataset.ann_file": str(root / "annotations.json")})
    database = json.loads((root / "annotations.json").read_text())["database"]
    results = {vid: [dict(segment=a["segment"], label=a["label"], score=0.9) for a in info["annotations"]]
               for vid, info in database.items() if info["subset"] == "test"}
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps({"results": results}))
    TASK.plot_predictions(cfg, {"perfect": str(tmp_path / "run")}, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_a_report_killed_while_written_leaves_whole_files_only(tmp_path, monkeypatch):
    import common.report as report
    import engine_toy
    records = [record("base", [80.0]), record("variant", [81.0])]

    def killed(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(report, "plot_curves", killed)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(str(tmp_path), engine_toy.TASK, records, "cmd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.png"]  # complete; no report.md yet
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.undo()
    path = report.write_report(str(tmp_path), engine_toy.TASK, records, "cmd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.json", "curves.png", "metrics.png", "report.md"]
    assert "| variant | 81.00 (+1.00) |" in open(path).read()
