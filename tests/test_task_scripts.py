"""The task scripts run what the user asked for: one calling convention (CONFIG [WORK_DIR] [KEY=VALUE
...]), and every override reaches training, testing and scoring alike. Run as a user runs them,
from a directory holding only the data, so a step that fell back to the config's own paths or
settings would fail (or, for the model, fail the strict checkpoint load)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import engine_toy
from asmamba.toy import make_toy_data

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}


def run(*cmd, cwd):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_train_task_tests_the_model_it_trained_with_the_same_overrides(tmp_path):
    engine_toy.make_toy_data(str(tmp_path / "data" / "toy" / "engine_toy"))
    config = Path(engine_toy.__file__).parent / "configs" / "toy_narrow.py"
    run(REPO / "tools" / "train_task.sh", config, "wd", "model.hidden=32", "train_cfg.max_epochs=1",
        "param_scheduler.0.T_max=1", cwd=tmp_path)
    metrics = json.loads((tmp_path / "wd" / "test_metrics.json").read_text())
    assert metrics["checkpoint"].endswith("wd/epoch_1.pth") and 0 < metrics["acc"] <= 1
    assert (tmp_path / "wd" / "val_metrics.json").exists()


def test_asmamba_train_sh_scores_every_split_on_the_overridden_data(tmp_path):
    make_toy_data(str(tmp_path / "elsewhere"), seed=0)
    overrides = [f"{k}_dataloader.dataset.data_root=elsewhere" for k in ("train", "val", "test")]
    overrides += ["model.num_f_maps=8", "model.num_layers=2", "model.num_decoders=1", "train_cfg.max_epochs=1",
                  "train_cfg.val_interval=1", "default_hooks.checkpoint.interval=1"]
    out = run("env", "SPLITS=all", REPO / "asmamba" / "train.sh", REPO / "asmamba/configs/toy/asformer_toy.py",
              "wd", *overrides, cwd=tmp_path)
    per_split = [json.loads((tmp_path / "wd" / f"split_{k}" / "test_metrics.json").read_text()) for k in (1, 2, 3, 4)]
    assert all(len(list((tmp_path / "wd" / f"split_{k}" / "predictions").iterdir())) == 5 for k in (1, 2, 3, 4))
    mean = json.loads((tmp_path / "wd" / "mean_metrics.json").read_text())
    assert mean["acc"] == sum(s["acc"] for s in per_split) / 4
    assert out.count("split ") == 4


def fails(*cmd, cwd):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stderr


def test_a_mistyped_override_is_an_error_never_a_work_dir(tmp_path):
    config = Path(engine_toy.__file__).parent / "configs" / "toy_narrow.py"
    script = REPO / "tools" / "train_task.sh"
    err = fails(script, config, "train_cfg.max_epochs:1", cwd=tmp_path)
    assert "'train_cfg.max_epochs:1' reads like a mistyped override (KEY=VALUE), not a WORK_DIR; for a directory " \
           "of that name write ./train_cfg.max_epochs:1" in err
    assert "reads like a mistyped override" in fails(script, config, "train_cfg.max_epochs", cwd=tmp_path)
    assert "'train_cfg.max_epochs:1' is not KEY=VALUE" in fails(script, config, "wd", "train_cfg.max_epochs:1",
                                                                 cwd=tmp_path)
    assert "'max_epochs' is not KEY=VALUE" in fails(script, config, "wd", "max_epochs", "1", cwd=tmp_path)
    assert "CONFIG 'nope.py' is not an mmengine .py config file" in fails(script, "nope.py", cwd=tmp_path)
    err = fails(script, config, "max_epochs", cwd=tmp_path)  # a bare key of the config: tools/train.py
    assert "work dir 'max_epochs' is a key of" in err and "write ./max_epochs" in err
    err = fails("env", "SPLITS=all", REPO / "asmamba" / "train.sh", REPO / "asmamba/configs/toy/asformer_toy.py",
                "train_cfg.max_epochs:1", cwd=tmp_path)
    assert "reads like a mistyped override" in err
    assert not list(tmp_path.iterdir())  # nothing trained, no work dir
