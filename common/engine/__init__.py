"""The shared training engine: mmengine's Runner, made safe to kill and resume.

Tasks register their datasets, models, metrics and hooks into mmengine's root registries
(re-exported here), inherit common/configs/default_runtime.py, describe themselves with a
`TaskSpec`, and are driven by tools/train.py, tools/test.py, tools/dist_train.sh, tools/compare.py.
"""
from mmengine.registry import (DATA_SAMPLERS, DATASETS, EVALUATOR, FUNCTIONS, HOOKS, LOOPS, METRICS,
                               MODEL_WRAPPERS, MODELS, OPTIM_WRAPPERS, OPTIMIZERS,
                               PARAM_SCHEDULERS, RUNNERS, TRANSFORMS, VISBACKENDS, VISUALIZERS)

from .checkpoint import CheckpointError, atomic_write_text, check_finite_weights, commit_file, model_state_dict, \
    read_checkpoint, restore_message_hub, rng_state, set_rng_state, state_dict_mismatches, to_plain
from .config import check_override_key, check_work_dir, config_differences, load_config, parse_overrides, scale_schedule
from .hooks import AtomicCheckpointHook, EpochTimeHook, FiniteLossHook, ProgressHook, ProgressLoggerHook, \
    ResultsDirHook, TrainStateHook, format_seconds
from .runner import EngineRunner, ResumableEpochBasedTrainLoop, build_runner, default_work_dir, test_final_checkpoint
from .task import LANDED_TASKS, TaskSpec, get_task, task_of_config, write_toy_data

__all__ = [
    "DATA_SAMPLERS", "DATASETS", "EVALUATOR", "FUNCTIONS", "HOOKS", "LOOPS", "METRICS",
    "MODEL_WRAPPERS", "MODELS", "OPTIM_WRAPPERS", "OPTIMIZERS", "PARAM_SCHEDULERS", "RUNNERS",
    "TRANSFORMS", "VISBACKENDS", "VISUALIZERS",
    "CheckpointError", "atomic_write_text", "check_finite_weights", "commit_file", "model_state_dict", "read_checkpoint",
    "restore_message_hub", "rng_state", "set_rng_state", "state_dict_mismatches", "to_plain",
    "check_override_key", "check_work_dir", "config_differences", "load_config", "parse_overrides", "scale_schedule",
    "AtomicCheckpointHook", "EpochTimeHook", "FiniteLossHook", "ProgressHook", "ProgressLoggerHook",
    "ResultsDirHook", "TrainStateHook", "format_seconds",
    "EngineRunner", "ResumableEpochBasedTrainLoop", "build_runner", "default_work_dir", "test_final_checkpoint",
    "LANDED_TASKS", "TaskSpec", "get_task", "task_of_config", "write_toy_data",
]
