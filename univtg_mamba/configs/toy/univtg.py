# UniVTG on the synthetic toy set (tools/make_toy_data.py univtg_mamba data/toy/univtg_mamba): the QVHighlights
# config shrunk to 32 + 16-d video / 16-d text features, a 32-d model with 2 Transformer layers, batches of 16
# and 20 epochs, evaluated once at the end. The ViM / DBM / query-blind toy configs inherit it: same budget.
# Toy recipe, for every row: background weight 1 and L1 weight 1 (UniVTG: 0.1 and 10). With upstream's weights
# the query-discriminating part of the gradient is too faint for the Mamba stacks to leave their query-blind
# plateau within a few hundred steps (measured; the Transformer leaves it either way).
_base_ = ["../qvhighlights_univtg.py"]
data_root = "data/toy/univtg_mamba"
toy = dict(video_feat_dirs=[data_root + "/vid_slowfast", data_root + "/vid_clip"], video_feat_dims=[32, 16],
           text_feat_dir=data_root + "/txt_clip", text_feat_dim=16, cache_features=True)
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                        dataset=dict(toy, ann_file=data_root + "/metadata/qvhighlights_train.jsonl"))
val_dataloader = dict(num_workers=0, dataset=dict(toy, ann_file=data_root + "/metadata/qvhighlights_val.jsonl"))
test_dataloader = val_dataloader
model = dict(video_dim=32 + 16 + 2, text_dim=16, hidden_dim=32, input_dropout=0.1,
             encoder=dict(num_layers=2, num_heads=4, dim_feedforward=64),
             eos_coef=1.0, loss_weights=dict(loss_b=1.0))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.5, end_factor=1.0, by_epoch=True, begin=0, end=2),
    dict(type="MultiStepLR", milestones=[16], gamma=0.1, by_epoch=True, begin=0, end=20),
]
train_cfg = dict(max_epochs=20, val_interval=20)
default_hooks = dict(checkpoint=dict(interval=20, save_best=None))
