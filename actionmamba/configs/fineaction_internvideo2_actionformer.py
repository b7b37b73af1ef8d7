# ActionFormer on FineAction with InternVideo2-1B features; published (the suite's README), mAP@0.5 / 0.75 / 0.95:
# 43.11 / 27.09 / 5.32, avg 27.22. The suite's mamba_fineaction_new.yaml with ActionFormer's backbone: arch
# (2, 2, 7), i.e. 8 levels (strides 1-128) with the yaml's regression ranges, window 7 at every level, 512-d,
# drop path 0.1; lr 1e-3 at batch 16, 20 + 5 warm-up epochs; multi-class soft-NMS (sigma 0.5), voting 0.7.
# As the suite's train_eval.py: validation after every epoch from the 6th on, the best epoch's checkpoint kept.
_base_ = ["./_base_/actionformer.py", "./_base_/fineaction_internvideo2.py"]
model = dict(
    backbone=dict(in_channels=1408, arch=(2, 2, 7), block=dict(window_size=7)),
    num_classes=106,
    regression_range=[(0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 10000)],
    init_loss_norm=100,
)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=16)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-8, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=20, eta_min=1e-8, by_epoch=True, begin=5, end=25,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=25, val_begin=6, val_interval=1)
default_hooks = dict(checkpoint=dict(save_best="mAP_avg", rule="greater"))
