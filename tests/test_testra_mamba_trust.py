"""Issue 21's TeSTra cases on the toy data set (testra_mamba.toy, as `tools/make_toy_data.py testra_mamba` writes
it), each with a mutation: per-frame targets that are not multi-hot, a model whose annotation folder differs
from the data's, and a feature file that is not an array are errors naming the file(s) and what was expected."""
import os
import shutil

import numpy as np
import pytest

from common.checks import InputError
from common.engine import build_runner, load_config
from testra_mamba import TASK
from testra_mamba.datasets import EK100AnticipationDataset
from testra_mamba.metrics import AnticipationRecall

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def toy_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_testra_source")
    TASK.make_toy_data(str(root), seed=0)
    return root


@pytest.fixture
def toy(toy_source, tmp_path):
    """A fresh copy of the toy set to mutate."""
    shutil.copytree(toy_source, tmp_path / "toy")
    return tmp_path / "toy"


def dataset(root, split="training", training=True):
    return EK100AnticipationDataset(str(root), str(root / "annotations"), split, training, feature_dims=(32, 32),
                                    long_memory_ticks=128, clip_mixup_rate=0.0)


def first_window_of(ds, video):
    np.random.seed(0)
    return ds[next(i for i, s in enumerate(ds.items) if s.video == video)]


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t * 0.5, r"expected multi-hot targets \(entries 0 or 1\), found 0.5 at row \d+, class \d+"),
    (lambda t: np.where(t[:, :1] == 1, 0.0, t), r"expected multi-hot targets \(at least one class per row\); "
                                                  r"row \d+ has 0"),  # background rows without their 1
])
def test_targets_that_are_not_multi_hot_are_an_error(toy, mutate, message):
    ds = dataset(toy)
    video = ds.items[0].video
    first_window_of(ds, video)  # the toy set's targets are multi-hot
    path = toy / "target_perframe" / f"{video}.npy"
    np.save(path, mutate(np.load(path)))
    with pytest.raises(InputError, match=f"{path}: {message}"):
        first_window_of(ds, video)


def test_feature_file_that_is_not_an_array_is_an_error_without_a_hint_to_unpickle(toy):
    path = toy / "rgb_kinetics_bninception" / "P01_01.npy"
    np.save(path, np.array([{"features": np.zeros((4, 32))}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="holds pickled Python objects, not a numeric array") as err:
        dataset(toy)
    assert str(path) in str(err.value) and "allow_pickle" not in str(err.value)


def runner_for(toy, model_annotations, tmp_path):
    data = dict(data_root=str(toy), annotations=str(toy / "annotations"))
    cfg = load_config(os.path.join(REPO, "testra_mamba/configs/toy/testra.py"), {
        "work_dir": str(tmp_path / "work"), "model.annotations": str(model_annotations),
        "train_dataloader.dataset": data, "val_dataloader.dataset": data, "test_dataloader.dataset": data,
        "train_cfg.max_epochs": 1, "visualizer.vis_backends": [dict(type="LocalVisBackend")]})
    return build_runner(cfg)


def other_annotations(toy, tmp_path):
    other = tmp_path / "other_annotations"
    shutil.copytree(toy / "annotations", other)
    return other


def test_model_annotations_with_other_classes_are_an_error_before_the_first_step(toy, tmp_path):
    other = other_annotations(toy, tmp_path)
    with open(other / "actions.csv", "a") as f:  # one action more than the data's targets have
        f.write("72,0,1,verb0 noun1\n")
    message = (f"{other} \\(model.annotations\\) and {toy / 'annotations'} \\({{}}.dataset.annotations\\) differ: "
               "73 actions, 10 verbs, 16 nouns against 72 actions, 10 verbs, 16 nouns")
    with pytest.raises(InputError, match=message.format("train_dataloader")):
        runner_for(toy, other, tmp_path).train()
    with pytest.raises(InputError, match=message.format("test_dataloader")):
        runner_for(toy, other, tmp_path).test()


def test_model_annotations_with_another_training_split_are_an_error_in_training(toy, tmp_path):
    other = other_annotations(toy, tmp_path)
    rows = (other / "training.csv").read_text().splitlines(keepends=True)
    (other / "training.csv").write_text("".join(rows[:100]))  # other action frequencies: other rare actions
    with pytest.raises(InputError, match="differ: their training.csv give other rare actions"):
        runner_for(toy, other, tmp_path).train()


def test_the_same_annotations_in_two_folders_pass(toy, tmp_path):
    other = other_annotations(toy, tmp_path)
    runner = runner_for(toy, other, tmp_path)
    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        runner.model.check_annotations(getattr(runner, name).dataset, name)


def test_non_finite_model_probabilities_are_never_scored(toy):
    ds = dataset(toy, "validation", training=False)
    metric = AnticipationRecall()
    metric.dataset_meta = ds.metainfo
    widths = dict(verb=ds.ann.classes.num_verbs, noun=ds.ann.classes.num_nouns, action=ds.ann.classes.num_actions)
    for i in range(len(ds)):
        item = ds[i]
        probs = {t: np.full((len(item["segment_ids"]), n), 1.0 / n, np.float32) for t, n in widths.items()}
        if i == 0:
            probs["noun"][0, 3] = np.nan
        metric.process(None, [dict(item, **probs)])
    with pytest.raises(InputError, match=r"the model's predictions: noun probabilities hold NaN or Inf"):
        metric.evaluate(len(ds))
