# ViT-S with joint space-time attention on Kinetics-400, 16 x 224: the counterpart of ViViM-S (see the Tiny file).
# The schedule is ViViM-S's (weight decay 0.05, 50 epochs); mmaction2's TimeSformer fixes its drop path at 0.1.
_base_ = ["./kinetics400_vit_joint_tiny_16x224.py"]
model = dict(backbone=dict(embed_dims=384, num_heads=6), cls_head=dict(in_channels=384))
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
train_cfg = dict(max_epochs=50)
param_scheduler = [
    dict(type="LinearLR", start_factor=4e-6 / 8e-4, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=45, eta_min=4e-6, by_epoch=True, begin=5, end=50,
         convert_to_iter_based=True),
]
