# ActionFormer on the synthetic toy set (tools/make_toy_data.py actionmamba data/toy/actionmamba):
# the THUMOS14 config shrunk to 32-d features, 64-d model, 256 steps and a short schedule.
# The Mamba toy configs inherit this one, so all four train with the same budget.
_base_ = ["../thumos14_i3d_actionformer.py"]
toy = dict(ann_file="data/toy/actionmamba/annotations.json", feat_folder="data/toy/actionmamba/features",
           num_classes=5, input_dim=32, max_seq_len=256)
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=toy)
val_dataloader = dict(num_workers=0, dataset=toy)
test_dataloader = dict(num_workers=0, dataset=toy)
model = dict(backbone=dict(in_channels=32, embed_dim=64), num_classes=5, max_seq_len=256, fpn_dim=64, head_dim=64,
             init_loss_norm=20)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-8, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=10, eta_min=1e-8, by_epoch=True, begin=2, end=12,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=12, val_interval=3)  # 4 validations: the report's curves
default_hooks = dict(checkpoint=dict(interval=12))
# A few hundred iterations: an EMA horizon of ~1000 (decay 0.999) would still mostly hold the init.
custom_hooks = [dict(type="EMAHook", momentum=0.01)]
