# ActionFormer (Zhang et al. 2022) on THUMOS14 I3D features: model, optimiser, schedule, EMA.
# Data sets come from a sibling file (thumos14_i3d.py, ...); the per-data-set configs override the rest.
_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["actionmamba"], allow_failed_imports=False)

model = dict(
    type="ActionLocalizer",
    backbone=dict(
        type="ConvTransformerBackbone",
        in_channels=2048,
        embed_dim=512,
        arch=(2, 2, 5),  # (embedding convs, stem blocks, downsampling branch blocks) -> 6 levels
        use_abs_pe=False,
        block=dict(n_head=4, window_size=19, drop_path=0.1),
    ),
    neck=dict(type="IdentityNeck"),
    num_classes=20,
    max_seq_len=2304,
    fpn_dim=512,
    head_dim=512,
    regression_range=[(0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000)],
    cls_prior_prob=0.01,
    center_sample_radius=1.5,
    init_loss_norm=100,
    label_smoothing=0.0,
    loss_weight=1.0,
    # Class-agnostic runs (ANet, HACS) vote boundaries weighted by score, as the suite's fork does (its
    # ActionFormer and ActionMamba numbers); ActionFormer's release weights by score * IoU: True.
    test_cfg=dict(pre_nms_thresh=0.001, pre_nms_topk=2000, duration_thresh=0.05, min_score=0.001,
                  max_seg_num=200, nms_sigma=0.5, multiclass_nms=True, voting_thresh=0.7,
                  voting_iou_weighted=False),
)

# AdamW, decay on conv/linear weights only; lr scales with the number of GPUs (batch 2 each).
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-4, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    constructor="ConvLinearDecayConstructor",
)
auto_scale_lr = dict(enable=True, base_batch_size=2)

# 5 warmup epochs (per-iteration linear ramp from 0) + 30 cosine epochs down to 1e-8.
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-8, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=30, eta_min=1e-8, by_epoch=True, begin=5, end=35,
         convert_to_iter_based=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=35, val_interval=35)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

# Evaluation uses the EMA weights (decay 0.999 every iteration = mmengine momentum 0.001).
custom_hooks = [
    dict(type="EMAHook", momentum=0.001),
]
randomness = dict(seed=1234567891)
