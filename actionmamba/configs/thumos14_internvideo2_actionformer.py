# ActionFormer on THUMOS14 with InternVideo2-6B features; published (the suite's README), mAP@0.3:0.1:0.7:
# 82.26 / 81.85 / 75.05 / 65.82 / 50.27, avg 71.86. The suite's mamba_thumos_new.yaml with ActionFormer's backbone
# (window 19 at all 6 levels, 512-d, drop path 0.1: the keys it holds for that backbone); 45 + 5 warm-up epochs.
# As the suite's train_eval.py: validation after every epoch from the 6th on, the best epoch's checkpoint kept.
_base_ = ["./_base_/actionformer.py", "./_base_/thumos14_internvideo2.py"]
model = dict(backbone=dict(in_channels=3200))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-8, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=45, eta_min=1e-8, by_epoch=True, begin=5, end=50,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=50, val_begin=6, val_interval=1)
default_hooks = dict(checkpoint=dict(save_best="mAP_avg", rule="greater"))
