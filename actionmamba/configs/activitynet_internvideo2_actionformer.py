# ActionFormer on ActivityNet 1.3 with InternVideo2-6B features; published (the suite's README), mAP@0.5 / 0.75 /
# 0.95: 61.47 / 44.61 / 12.73, avg 41.19. The suite's mamba_anet_new.yaml with ActionFormer's backbone: windows
# [7, 7, 7, 7, 7, global] over 192-96-48-24-12-6 steps, 256-d, no absolute position embedding (the yaml turns
# off what ActionFormer's own ActivityNet config turns on), drop path 0.1; 10 + 5 warm-up epochs.
# As the suite's train_eval.py: validation after every epoch from the 6th on, the best epoch's checkpoint kept.
_base_ = ["./_base_/actionformer.py", "./_base_/activitynet_internvideo2.py"]
model = dict(
    backbone=dict(in_channels=3200, embed_dim=256, use_abs_pe=False, block=dict(window_size=[7, 7, 7, 7, 7, -1])),
    num_classes=1,
    max_seq_len=192,
    fpn_dim=256,
    head_dim=256,
    init_loss_norm=200,
    label_smoothing=0.1,
    loss_weight=2.0,
    test_cfg=dict(max_seg_num=100, nms_sigma=0.75, duration_thresh=0.001, multiclass_nms=False, voting_thresh=0.9),
)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=16)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-8, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=10, eta_min=1e-8, by_epoch=True, begin=5, end=15,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=15, val_begin=6, val_interval=1)
default_hooks = dict(checkpoint=dict(save_best="mAP_avg", rule="greater"))
