# UniVTG (Lin et al., ICCV 2023) as the suite's scripts/qvhl_pretrain.sh trains it on QVHighlights from
# scratch: model, loss weights, optimiser, schedule, evaluation. Data sets come from a sibling file
# (qvhighlights.py, charades_sta.py); the per-data-set configs override the recipe where upstream does.
_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["univtg_mamba"], allow_failed_imports=False)

model = dict(
    type="UniVTG",
    video_dim=2304 + 512 + 2,  # SlowFast + CLIP + the temporal endpoint feature (ctx_mode video_tef)
    text_dim=512,
    hidden_dim=1024,
    n_input_proj=2,
    input_dropout=0.5,
    encoder=dict(type="TransformerInteractionEncoder", num_layers=4, num_heads=8, dim_feedforward=1024,
                 dropout=0.0, drop_path=0.1),
    loss_weights=dict(loss_b=10.0, loss_g=1.0, loss_f=10.0, loss_s_inter=0.01, loss_s_intra=0.05),
    eos_coef=0.1,
    temperature=0.07,
    # NMS at 0.7 over all clips' windows (upstream reports the NMS'd result); saliency = similarity + foreground
    test_cfg=dict(nms_thd=0.7, max_before_nms=1000, max_after_nms=10, eval_mode="add"),
)

# AdamW (no decay on biases and the mixers' A_log / D), gradient norm clipped at 0.1.
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    constructor="NoDecayBiasSSMConstructor",
)
# WarmupStepLR stepped per epoch: lr * (e + 1) / 10 for e < 10, then x0.1 every lr_drop (80) epochs.
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, end_factor=1.0, by_epoch=True, begin=0, end=10),
    dict(type="MultiStepLR", milestones=[80, 160], gamma=0.1, by_epoch=True, begin=0, end=200),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=200, val_interval=2)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
# Upstream keeps the checkpoint with the best validation MR-full-mAP-key (its main_metric).
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2, save_best="MR-full-mAP-key", rule="greater"))
randomness = dict(seed=2018)
