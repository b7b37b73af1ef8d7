# YouCook2 with TSN features (resnet + bn, 3072-d), every video resized to 200 steps; 100 queries, the
# counter up to 20 events. Training keeps at most 10 events per video: PDVC's YouCook2 config sets
# train_proposal_sample_num 30, but the loader reads gt_proposal_sample_num, whose default is 10.
_base_ = ["./anet_c3d.py"]
data_root = "data/yc2"
vocab_size = 1607
dataset = dict(vocab_file=data_root + "/vocabulary_youcook2.json", vocab_size=vocab_size,
               feature_types=["resnet", "bn"],
               feature_folders=[data_root + "/features/resnet_bn", data_root + "/features/resnet_bn"],
               frame_embedding_num=200, max_events=10)
model = dict(feature_dim=3072, vocab_size=vocab_size, num_queries=100, max_eseq_length=20)
train_dataloader = dict(dataset=dict(dataset, caption_file=data_root + "/captiondata/yc2_train.json"))
val_dataloader = dict(dataset=dict(dataset, caption_file=data_root + "/captiondata/yc2_val.json"))
test_dataloader = val_dataloader
evaluator = dict(references=[data_root + "/captiondata/yc2_val.json"],
                 para_references=[data_root + "/captiondata/para/para_yc2_val.json"])
val_evaluator = evaluator
test_evaluator = evaluator
