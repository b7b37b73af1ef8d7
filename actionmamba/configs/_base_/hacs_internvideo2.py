# HACS Segments v1.1.1 with InternVideo2-6B features (3200-d, 16-frame clips every 8 frames, 30 fps), as
# the video suite uses them: one v_<id>.pt (T x 3200 tensor) per video, not resized. Class-agnostic with
# external classification scores; mAP over tIoU 0.5:0.95.
data_root = "data/hacs"
hacs = dict(
    type="ActionLocalizationDataset",
    ann_file=data_root + "/annotations/HACS_segments_v1.1.1_af.json",
    feat_folder=data_root + "/internvideo2_features",
    file_prefix="v_",
    file_ext=".pt",
    num_classes=1,
    input_dim=3200,
    feat_stride=8,
    num_frames=16,
    default_fps=30,
    max_seq_len=2304,
    skip_missing_features=False,
)
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(hacs, split="training", training=True, trunc_thresh=0.5, crop_ratio=(0.9, 1.0)),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(hacs, split="validation", training=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type="DetectionMAP",
    tiou_thresholds=(0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
    external_scores=data_root + "/annotations/hacs_UMTv2_6B_k710+K40_f16_frozenTuning.json_converted.json",
    fusion_topk=2,
)
test_evaluator = val_evaluator
