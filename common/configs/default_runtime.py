# Shared runtime for every task config; a task inherits it through a relative `_base_` path and sets
# `custom_imports = dict(imports=["<task>"], allow_failed_imports=False)`.
# The hook types below live in common/engine/hooks.py; the tools import common.engine first.
default_scope = None

default_hooks = dict(
    runtime_info=dict(type="RuntimeInfoHook"),
    timer=dict(type="IterTimerHook"),
    # Progress with ETA every 50 iterations, and at least 5 times per train / val / test epoch.
    logger=dict(type="ProgressLoggerHook", interval=50, min_updates=5),
    # <work_dir>/progress.json and a progress line per epoch on the console.
    progress=dict(type="ProgressHook"),
    param_scheduler=dict(type="ParamSchedulerHook"),
    # Atomic files, and last_checkpoint never points at a missing one; see AtomicCheckpointHook.
    checkpoint=dict(type="AtomicCheckpointHook", interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    # RNG states in checkpoints, plain (weights_only-loadable) checkpoint contents.
    train_state=dict(type="TrainStateHook"),
    # A NaN / Inf loss stops training at that iteration, with an error naming it.
    finite_loss=dict(type="FiniteLossHook"),
    epoch_time=dict(type="EpochTimeHook"),
    # Metrics with an `out_dir` write their prediction files into the work dir; scores go to
    # <work_dir>/{val,test}_metrics.json.
    results_dir=dict(type="ResultsDirHook"),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    # nccl on CUDA; on a machine without CUDA common.engine.build_runner switches to gloo.
    dist_cfg=dict(backend="nccl"),
)

vis_backends = [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends)

log_processor = dict(by_epoch=True)
log_level = "INFO"
# None: the log on the console too; tools/train.py sets WARNING (the log file keeps everything).
console_log_level = None

randomness = dict(seed=0)
load_from = None
# Checkpoints load strictly; True loads what fits and lists the rest (fine-tuning with a changed head).
load_partial = False
resume = False
