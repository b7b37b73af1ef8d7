# ActionFormer on ActivityNet 1.3 TSP features (published avg mAP 36.56 over tIoU 0.5:0.95).
_base_ = ["./_base_/actionformer.py", "./_base_/activitynet_tsp.py"]
model = dict(
    backbone=dict(in_channels=512, embed_dim=256, use_abs_pe=True,
                  block=dict(window_size=[7, 7, 7, 7, 7, -1])),  # 192-96-48-24-12-6: global at the top
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
train_cfg = dict(max_epochs=15, val_interval=15)
