# ActivityNet Captions with C3D features (500-d, one .npy per video named by the 13-character id), every
# video resized to 100 steps; trained on train_modified, validated on val_1 and scored against val_1 +
# val_2 (dense captioning, SODA_c) and the ActivityNet Entities paragraphs (paragraph captioning).
_base_ = ["./pdvc.py"]
data_root = "data/anet"
vocab_size = 5747
dataset = dict(
    type="DenseCaptionDataset",
    vocab_file=data_root + "/vocabulary_activitynet.json",
    vocab_size=vocab_size,
    feature_types=["c3d"],
    feature_folders=[data_root + "/features/c3d"],
    invalid_video_files=[],
    frame_embedding_num=100,
    max_caption_len=30,
    max_events=30,  # gt_proposal_sample_num
)
model = dict(feature_dim=500, vocab_size=vocab_size, num_queries=10, max_eseq_length=10)
train_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pdvc_collate"),
    dataset=dict(dataset, caption_file=data_root + "/captiondata/train_modified.json", training=True))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pdvc_collate"),
    dataset=dict(dataset, caption_file=data_root + "/captiondata/val_1.json"))
test_dataloader = val_dataloader
evaluator = dict(
    type="DenseCaptioningMetric",
    references=[data_root + "/captiondata/val_1.json", data_root + "/captiondata/val_2.json"],
    para_references=[data_root + "/captiondata/para/anet_entities_val_1_para.json",
                     data_root + "/captiondata/para/anet_entities_val_2_para.json"],
    rerank_alpha=1.0)  # ec_alpha: 1.0 for PDVC, 0.3 for PDVC-light
val_evaluator = evaluator
test_evaluator = evaluator
