# ActionFormer on HACS with InternVideo2-6B features; published (the suite's README), mAP@0.5 / 0.75 / 0.95:
# 62.62 / 44.61 / 12.73, avg 43.34. The suite's mamba_hacs_new.yaml with ActionFormer's backbone: windows
# [25, 25, 25, 25, 25, global], absolute position embedding, 256-d, drop path 0.1; 20 + 5 warm-up epochs.
# As the suite's train_eval.py: validation after every epoch from the 6th on, the best epoch's checkpoint kept.
_base_ = ["./_base_/actionformer.py", "./_base_/hacs_internvideo2.py"]
model = dict(
    backbone=dict(in_channels=3200, embed_dim=256, use_abs_pe=True,
                  block=dict(window_size=[25, 25, 25, 25, 25, -1])),
    num_classes=1,
    max_seq_len=2304,
    fpn_dim=256,
    head_dim=256,
    init_loss_norm=400,
    label_smoothing=0.1,
    test_cfg=dict(max_seg_num=100, nms_sigma=0.75, duration_thresh=0.1, multiclass_nms=False, voting_thresh=0.7),
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
