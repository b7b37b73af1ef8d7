"""What a task package tells the generic tools (tools/make_toy_data.py, tools/compare.py)."""
import importlib
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from ..io import built_aside


# The task packages of this repository, in the order the main job (tools/demo.py) runs them.
LANDED_TASKS = ("asmamba", "actionmamba", "testra_mamba", "pdvc_mamba", "videomamba_st", "univtg_mamba")


@dataclass(frozen=True)
class TaskSpec:
    """A task package's `TASK`, defined in its `__init__.py`.

    name: the package name, e.g. "asmamba".
    toy_data_root: directory the toy configs read, relative to the working directory
        (tools run from the repository root), e.g. "data/toy/asmamba".
    make_toy_data: `make_toy_data(out_dir, seed=0)` writes the synthetic data set in the real
        on-disk format.
    compare_configs: repository-relative toy configs, the baseline first.
    table_metrics: metric keys (as the task's metric returns them) for the comparison table.
    flops_inputs: `flops_inputs(cfg) -> tuple`, positional inputs for
        `model(*inputs, mode="tensor")`.
    plot_predictions: `plot_predictions(cfg, runs, path)` draws what each model predicts on a few
        validation videos, the way the task's community draws it, into the PNG `path`. `runs` maps a
        model's label to the work dir of its run, where the task's metric wrote its prediction file(s)
        at the last validation (metrics with an `out_dir` attribute get the work dir, ResultsDirHook).
    demo_epochs: the epochs `make demo` trains each config for (the whole schedule scaled, see
        common.engine.scale_schedule); None keeps the toy configs' schedule.
    convert_checkpoint: `convert_checkpoint(checkpoint, cfg) -> state_dict` turns what `torch.load`
        read from an upstream release (its own layout: nesting, key names, shapes, EMA copies) into
        the state_dict of the model `cfg` builds; tools/convert_checkpoint.py then checks it strictly.
        None: the file holds our layout already (a `state_dict` / `model` entry or a bare state_dict,
        `module.` prefixes dropped).
    """

    name: str
    toy_data_root: str
    make_toy_data: Callable[..., None]
    compare_configs: Sequence[str]
    table_metrics: Sequence[str]
    flops_inputs: Callable[..., tuple]
    plot_predictions: Optional[Callable[..., None]] = None
    demo_epochs: Optional[int] = None
    convert_checkpoint: Optional[Callable[..., dict]] = None


def get_task(name: str) -> TaskSpec:
    """Import the task package `name` and return its `TASK`."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise ValueError(f"no task package named {name!r} on the Python path") from None
    task = getattr(module, "TASK", None)
    if not isinstance(task, TaskSpec):
        raise ValueError(f"task package {name!r} ({module.__file__}) defines no "
                         "`TASK = common.engine.TaskSpec(...)`")
    return task


def task_of_config(cfg) -> TaskSpec:
    """The task a config belongs to: the first package its `custom_imports` name."""
    imports = cfg.get("custom_imports", {}).get("imports", [])
    if not imports:
        raise ValueError(f"{cfg.filename}: no custom_imports naming the task package")
    return get_task(imports[0])


def write_toy_data(task: TaskSpec, out_dir: str, seed: int = 0) -> None:
    """`task.make_toy_data` into `out_dir`, built aside and renamed (common.io.built_aside): a writer that
    is killed leaves no half-written data set for a later run to take as whole. An existing, non-empty
    `out_dir` is a FileExistsError."""
    with built_aside(out_dir) as partial:
        task.make_toy_data(partial, seed=seed)
