"""The shared training engine: mmengine's Runner, made safe to kill and resume.

Tasks register their datasets, models, metrics and hooks into mmengine's root registries
(re-exported here), inherit common/configs/default_runtime.py, describe themselves with a
`TaskSpec`, and are driven by tools/train.py, tools/test.py, tools/dist_train.sh, tools/compare.py.
"""
from mmengine.registry import (DATA_SAMPLERS, DATASETS, EVALUATOR, FUNCTIONS, HOOKS, LOOPS, METRICS,
                               MODEL_WRAPPERS, MODELS, OPTIM_WRAPPERS, OPTIMIZERS,
                               PARAM_SCHEDULERS, RUNNERS, TRANSFORMS, VISBACKENDS, VISUALIZERS)

from .checkpoint import atomic_write_text, commit_file, restore_message_hub, rng_state, \
    set_rng_state, to_plain
from .hooks import AtomicCheckpointHook, EpochTimeHook, ProgressLoggerHook, ResultsDirHook, TrainStateHook
from .runner import EngineRunner, build_runner, default_work_dir, load_config, parse_overrides, test_final_checkpoint
from .task import TaskSpec, get_task

__all__ = [
    "DATA_SAMPLERS", "DATASETS", "EVALUATOR", "FUNCTIONS", "HOOKS", "LOOPS", "METRICS",
    "MODEL_WRAPPERS", "MODELS", "OPTIM_WRAPPERS", "OPTIMIZERS", "PARAM_SCHEDULERS", "RUNNERS",
    "TRANSFORMS", "VISBACKENDS", "VISUALIZERS",
    "atomic_write_text", "commit_file", "restore_message_hub", "rng_state", "set_rng_state",
    "to_plain",
    "AtomicCheckpointHook", "EpochTimeHook", "ProgressLoggerHook", "ResultsDirHook", "TrainStateHook",
    "EngineRunner", "build_runner", "default_work_dir", "load_config", "parse_overrides", "test_final_checkpoint",
    "TaskSpec", "get_task",
]
