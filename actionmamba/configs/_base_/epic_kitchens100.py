# EPIC-Kitchens 100 verbs, SlowFast features (2304-d, 32-frame clips every 16 frames, 30 fps): one
# <id>.npz per video with the array under 'feats'. Verb classes without training annotations are
# allowed (their classifier prior is lowered by SilenceEmptyClassesHook). mAP over tIoU 0.1:0.5.
data_root = "data/epic_kitchens"
epic = dict(
    type="ActionLocalizationDataset",
    ann_file=data_root + "/annotations/epic_kitchens_100_verb.json",
    feat_folder=data_root + "/features",
    file_ext=".npz",
    num_classes=97,
    input_dim=2304,
    feat_stride=16,
    num_frames=32,
    default_fps=30,
    max_seq_len=2304,
    skip_missing_features=True,
    allow_empty_classes=True,
)
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(epic, split="training", training=True, trunc_thresh=0.3, crop_ratio=(0.9, 1.0)),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="actionformer_collate"),
    dataset=dict(epic, split="validation", training=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="DetectionMAP", tiou_thresholds=(0.1, 0.2, 0.3, 0.4, 0.5))
test_evaluator = val_evaluator
