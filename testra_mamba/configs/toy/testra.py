# TeSTra on the synthetic toy set (tools/make_toy_data.py testra_mamba data/toy/testra_mamba): the EK100 config
# with 32 + 32-d features, a 64-d model, 32 s of long memory (32 tokens, 8 + 8 queries) and a short schedule.
# The Mamba toy configs inherit this file, so all three train with the same data, schedule and budget.
_base_ = ["../testra_ek100.py"]
data_root = "data/toy/testra_mamba"
annotations = data_root + "/annotations"
toy = dict(data_root=data_root, annotations=annotations, feature_dims=(32, 32), long_memory_ticks=128)
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False, dataset=toy)
val_dataloader = dict(num_workers=0, dataset=dict(toy, track_videos=3))
test_dataloader = dict(num_workers=0, dataset=dict(toy, track_videos=3))
# Classifier dropout 0.3 (EK100: 0.8 on 2048-d): 0.8 on 64 dimensions leaves too little signal for a short run.
model = dict(annotations=annotations, input_dims=(32, 32), d_model=64, num_heads=4, dim_feedforward=128,
             cls_dropout=0.3, long_memory=dict(ticks=128, queries=(8, 8)))
optim_wrapper = dict(optimizer=dict(lr=3e-3))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.3, end_factor=1.0, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=12, eta_min=0.0, by_epoch=True, begin=0, end=12, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=12, val_interval=12)
default_hooks = dict(checkpoint=dict(interval=12))
