# QVHighlights (Lei et al., 2021) with UniVTG's features: SlowFast R50 (2304-d) and CLIP ViT-B/32 (512-d) per
# 2 s clip, CLIP text tokens (512-d); UniVTG's data/qvhighlights layout. Validation = the val split, scored
# with the full MR + HL protocol; the test split has no labels: point test_dataloader.dataset.ann_file at
# qvhighlights_test.jsonl and tools/test.py writes the CodaLab submission only.
data_root = "data/qvhighlights"
qvhighlights = dict(
    type="MomentRetrievalDataset",
    video_feat_dirs=[data_root + "/vid_slowfast", data_root + "/vid_clip"],
    video_feat_dims=[2304, 512],
    text_feat_dir=data_root + "/txt_clip",
    text_feat_dim=512,
    clip_len=2.0,
)
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="moment_collate"),
    dataset=dict(qvhighlights, ann_file=data_root + "/metadata/qvhighlights_train.jsonl"),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="moment_collate"),
    dataset=dict(qvhighlights, ann_file=data_root + "/metadata/qvhighlights_val.jsonl"),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="MomentRetrievalMetric")
test_evaluator = val_evaluator
