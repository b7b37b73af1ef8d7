# PDVC (ttengwang/PDVC cfgs/anet_c3d_pdvc.yml + opts.py defaults): model, optimiser, schedule.
# The data set files (anet_c3d.py, ...) inherit it and set the features, vocabulary and event budget; the
# *_pdvcl configs swap in the light captioner, the *_dbm / *_vim configs the suite's Mamba encoder.
_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["pdvc_mamba"], allow_failed_imports=False)

model = dict(
    type="PDVC",
    feature_dim=None,  # set by the data set file
    vocab_size=None,
    hidden_dim=512,
    num_queries=10,
    num_feature_levels=4,
    transformer=dict(nhead=8, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=512, dropout=0.1,
                     enc_n_points=4, dec_n_points=4),  # + encoder_mixer=dict(kind=...) in the Mamba variants
    # caption_decoder_type 'standard': LSTM with deformable soft attention (cap_nheads 1, 4 levels x 4 points)
    captioner=dict(type="LSTMDSACaptioner", rnn_size=512, input_encoding_size=512, drop_prob=0.5, max_caption_len=30,
                   n_heads=1, n_levels=4, n_points=4, att_hid_size=512),
    max_eseq_length=10,
    matcher=dict(cost_class=2, cost_bbox=0, cost_giou=4, cost_alpha=0.25, cost_gamma=2),
    loss_weights=dict(ce=2, bbox=0, giou=4, counter=0.5, caption=2),
    focal_alpha=0.25,
    focal_gamma=2.0,
    counter_gaussian_mask=True,
)

# Adam 5e-5 (weight decay 1e-4), gradient norm clipped at 100; the learning rate halves every 3 epochs from
# epoch 8 (MultiStepLR, milestones 8, 11, ..., 26), 30 epochs; batch 1; validation after every epoch.
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=5e-5, weight_decay=1e-4),
                     clip_grad=dict(max_norm=100.0, norm_type=2))
param_scheduler = [dict(type="MultiStepLR", by_epoch=True, milestones=[8, 11, 14, 17, 20, 23, 26], gamma=0.5)]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=30, val_interval=1)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
randomness = dict(seed=777)
# Keep the epoch with the best METEOR + SODA_c (the metric's `dvc`), PDVC's default --criteria_for_best_ckpt;
# train.sh tests that checkpoint.
default_hooks = dict(checkpoint=dict(save_best="dvc", rule="greater"))
