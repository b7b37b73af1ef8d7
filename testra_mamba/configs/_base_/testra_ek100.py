# TeSTra on EPIC-Kitchens-100 as upstream trains it (zhaoyue-zephyrus/TeSTra,
# configs/EK100/TESTRA/testra_long_64_work_5_anti_2_kinetics_2x_mixup_v+n_eql_decay_0.9.yaml):
# RULSTM's two-stream BN-Inception features at 4 fps, long memory 64 s (64 tokens at 1 s), work memory 5 s
# (10 tokens at 0.5 s), anticipation 2 s (2 queries 1 s apart), ESA decay 0.9, d_model 2048, batch 32,
# Adam 5e-5 (weight decay 1e-4), 30 epochs of per-iteration warm-up cosine, clip mixup 0.5, equalisation loss.
_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["testra_mamba"], allow_failed_imports=False)

data_root = "data/ek100"  # rgb_kinetics_bninception/, flow_kinetics_bninception/, {target,verb,noun}_perframe/
annotations = "data/ek100/annotations"  # RULSTM's RULSTM/data/ek100 (actions.csv, training.csv, ...)
# Ticks at 4 fps. The data set and the model read the same memory layout.
long_memory = dict(ticks=256, stride=4, queries=(16, 16), layers=(1, 2), decay=0.9)
work_memory = dict(ticks=20, stride=2)
anticipation = dict(ticks=8, stride=4)
anticipation_gap_ticks = 4  # RULSTM's 1 s anticipation time

dataset = dict(type="EK100AnticipationDataset", data_root=data_root, annotations=annotations,
               feature_dims=(1024, 1024), long_memory_ticks=long_memory["ticks"],
               work_memory_ticks=work_memory["ticks"], work_memory_stride=work_memory["stride"],
               anticipation_ticks=anticipation["ticks"], anticipation_stride=anticipation["stride"],
               anticipation_gap_ticks=anticipation_gap_ticks)
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="anticipation_collate"),
    dataset=dict(dataset, split="training", training=True, clip_mixup_rate=0.5))
# Evaluation reads whole videos (one per step) and scores every validation segment 1 s before it starts.
val_dataloader = dict(
    batch_size=1, num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="anticipation_collate"),
    dataset=dict(dataset, split="validation", training=False))
test_dataloader = val_dataloader
val_evaluator = dict(type="AnticipationRecall")
# The test run also writes the EPIC-Kitchens challenge json; for the challenge's test split set
# test_dataloader.dataset.split=test_timestamps (no labels: scores and json only).
test_evaluator = dict(type="AnticipationRecall", challenge_file="challenge.json")

model = dict(type="TeSTra", annotations=annotations, input_dims=(1024, 1024), d_model=2048, num_heads=8,
             dim_feedforward=2048, dropout=0.1, cls_dropout=0.8, long_memory=long_memory, work_memory=work_memory,
             anticipation=anticipation, anticipation_gap_ticks=anticipation_gap_ticks,
             decoder=dict(type="transformer", num_layers=2), eql=dict(gamma=0.95, lambda_=3e-3))

optim_wrapper = dict(optimizer=dict(type="Adam", lr=5e-5, weight_decay=1e-4))
# Upstream's warmup_cosine, per iteration: lr = base * w(t) * (1 + cos(pi t / T)) / 2 with w rising linearly
# from 0.3 to 1 over the first 5 epochs and T = all 30 epochs (the two factors multiply).
param_scheduler = [
    dict(type="LinearLR", start_factor=0.3, end_factor=1.0, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=30, eta_min=0.0, by_epoch=True, begin=0, end=30, convert_to_iter_based=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=30, val_interval=5)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
default_hooks = dict(checkpoint=dict(interval=5))
# Adds `stream_ms` (per-tick latency of the online model) to the validation metrics; checks that the model's
# and the data sets' annotation folders agree before each loop.
custom_hooks = [dict(type="StreamLatencyHook"), dict(type="AnnotationsMatchHook")]
randomness = dict(seed=0)
