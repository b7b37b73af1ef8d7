# ActivityNet 1.3, TSP features (512-d, 16-frame clips every 16 frames at 15 fps): one v_<id>.npy per
# video, every video linearly resized to 192 steps. Class-agnostic (num_classes 1): detections become
# class-specific through an external video classifier's scores (CUHK), fused by DetectionMAP.
data_root = "data/anet_1.3"
activitynet = dict(
    type="ActionLocalizationDataset",
    ann_file=data_root + "/annotations/anet1.3_tsp_filtered.json",
    feat_folder=data_root + "/tsp_features",
    file_prefix="v_",
    file_ext=".npy",
    num_classes=1,
    input_dim=512,
    feat_stride=16,
    num_frames=16,
    default_fps=15,
    max_seq_len=192,
    force_upsampling=True,
    skip_missing_features=False,
)
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(activitynet, split="training", training=True, trunc_thresh=0.5, crop_ratio=(0.9, 1.0)),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(activitynet, split="validation", training=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type="DetectionMAP",
    tiou_thresholds=(0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
    external_scores=data_root + "/annotations/cuhk_val_simp_share.json",
    fusion_topk=2,
)
test_evaluator = val_evaluator
