# FineAction with InternVideo2-1B features as the video suite releases them (cg1177/fineaction_internvideo2_1b_w16_s4;
# configs/mamba_fineaction_new.yaml): one <id>_spatial_pool_feature_5.pt (T x 1408 tensor) per video (ids as
# v_00000001), 16-frame clips every 4 frames at 30 fps, every other one kept (downsample_rate 2: stride 8), not
# resized. 106 classes, class-specific detections (no score fusion); mAP over tIoU 0.5:0.95.
# The suite reads FineAction with its HACS loader: the three videos below skipped in every split ("dirty
# annotation") and zero-length segments dropped, with any video left without one; both counted in a warning.
data_root = "data/fineaction"
fineaction = dict(
    type="ActionLocalizationDataset",
    ann_file=data_root + "/annotations/fineaction_annotations_gt_filter.json",
    feat_folder=data_root + "/internvideo2_features",
    file_suffix="_spatial_pool_feature_5",
    file_ext=".pt",
    num_classes=106,
    input_dim=1408,
    feat_stride=4,
    num_frames=16,
    default_fps=30,
    downsample_rate=2,
    max_seq_len=2304,
    skip_missing_features=False,
    drop_zero_length=True,
    exclude_videos=["v_00004011", "v_00006080", "v_00002783"],
)
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(fineaction, split="training", training=True, trunc_thresh=0.5, crop_ratio=(0.9, 1.0)),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(fineaction, split="validation", training=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="DetectionMAP", tiou_thresholds=(0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95))
test_evaluator = val_evaluator
