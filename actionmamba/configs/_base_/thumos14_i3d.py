# THUMOS14, two-stream I3D features (RGB 1024 || flow 1024, 16-frame clips every 4 frames, ~30 fps):
# one T x 2048 .npy per video; train on the 'validation' subset, test on 'test'; 20 classes.
data_root = "data/thumos"
thumos14 = dict(
    type="ActionLocalizationDataset",
    ann_file=data_root + "/annotations/thumos14.json",
    feat_folder=data_root + "/i3d_features",
    file_ext=".npy",
    num_classes=20,
    input_dim=2048,
    feat_stride=4,
    num_frames=16,
    max_seq_len=2304,
    skip_missing_features=True,
)
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(thumos14, split="validation", training=True, trunc_thresh=0.5, crop_ratio=(0.9, 1.0)),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(thumos14, split="test", training=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="DetectionMAP", tiou_thresholds=(0.3, 0.4, 0.5, 0.6, 0.7))
test_evaluator = val_evaluator
