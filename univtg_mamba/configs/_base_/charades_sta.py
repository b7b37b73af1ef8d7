# Charades-STA (Gao et al., 2017) with UniVTG's features: SlowFast R50 (2304-d) and CLIP ViT-B/32 (512-d) per
# 1 s clip, CLIP text tokens; UniVTG's data/charades layout. No saliency labels: the saliency losses use the
# moment's clips. Evaluated on the test split (upstream's eval_path); the paper's R1@0.3 / 0.5 / 0.7 and mIoU
# are MR-full-R1@{0.3,0.5,0.7}-key and MR-full-mIoU-key.
data_root = "data/charades"
charades = dict(
    type="MomentRetrievalDataset",
    video_feat_dirs=[data_root + "/vid_slowfast", data_root + "/vid_clip"],
    video_feat_dims=[2304, 512],
    text_feat_dir=data_root + "/txt_clip",
    text_feat_dim=512,
    clip_len=1.0,
)
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="moment_collate"),
    dataset=dict(charades, ann_file=data_root + "/metadata/charades_train.jsonl"),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="moment_collate"),
    dataset=dict(charades, ann_file=data_root + "/metadata/charades_test.jsonl"),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="MomentRetrievalMetric")
test_evaluator = val_evaluator
