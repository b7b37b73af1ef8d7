# PDVC on the synthetic toy set (tools/make_toy_data.py pdvc_mamba data/toy/pdvc_mamba): the ActivityNet C3D
# config with a 128-d model, 48 frames, batches of 8 and a short schedule (12 epochs, evaluated once at the
# end). The ViM / DBM configs and the most-frequent-sentence floor inherit this file: the same budget for all.
_base_ = ["../anet_c3d_pdvc.py"]
data_root = "data/toy/pdvc_mamba"
vocab_size = 35
dataset = dict(vocab_file=data_root + "/vocabulary_activitynet.json", vocab_size=vocab_size,
               feature_folders=[data_root + "/features/c3d"], frame_embedding_num=48, max_caption_len=12)
model = dict(vocab_size=vocab_size, hidden_dim=128, transformer=dict(dim_feedforward=256),
             captioner=dict(rnn_size=128, input_encoding_size=128, att_hid_size=128, max_caption_len=12))
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(dataset, caption_file=data_root + "/captiondata/train_modified.json"))
val_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                      dataset=dict(dataset, caption_file=data_root + "/captiondata/val_1.json"))
test_dataloader = val_dataloader
evaluator = dict(references=[data_root + "/captiondata/val_1.json", data_root + "/captiondata/val_2.json"],
                 para_references=[data_root + "/captiondata/para/anet_entities_val_1_para.json",
                                  data_root + "/captiondata/para/anet_entities_val_2_para.json"])
val_evaluator = evaluator
test_evaluator = evaluator
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=10, eta_min=1e-5, by_epoch=True, begin=2, end=12, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=12, val_interval=12)
default_hooks = dict(checkpoint=dict(interval=12))
