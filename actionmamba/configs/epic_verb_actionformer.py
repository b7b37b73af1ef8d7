# ActionFormer on EPIC-Kitchens 100 verbs, SlowFast features (published avg mAP 23.51).
_base_ = ["./_base_/actionformer.py", "./_base_/epic_kitchens100.py"]
model = dict(
    backbone=dict(in_channels=2304, block=dict(window_size=9)),
    num_classes=97,
    regression_range=[(0, 4), (2, 8), (4, 16), (8, 32), (16, 64), (32, 10000)],  # overlapping ranges
    init_loss_norm=250,
    test_cfg=dict(pre_nms_topk=5000, max_seg_num=2000, nms_sigma=0.4),
)
custom_hooks = [
    dict(type="EMAHook", momentum=0.001),
    dict(type="SilenceEmptyClassesHook"),
]
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-8, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=25, eta_min=1e-8, by_epoch=True, begin=5, end=30,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30, val_interval=30)
