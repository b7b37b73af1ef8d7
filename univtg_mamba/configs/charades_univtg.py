# UniVTG on Charades-STA (the suite's scripts/sta_pretrain.sh): 6 Transformer layers, lr 1e-5 (wd 1e-5)
# dropped at epoch 100 of 200, foreground weight 20, saliency weights 0.5 (inter) / 1 (intra).
_base_ = ["./_base_/univtg.py", "./_base_/charades_sta.py"]
model = dict(
    encoder=dict(num_layers=6),
    loss_weights=dict(loss_f=20.0, loss_s_inter=0.5, loss_s_intra=1.0),
)
optim_wrapper = dict(optimizer=dict(lr=1e-5, weight_decay=1e-5))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, end_factor=1.0, by_epoch=True, begin=0, end=10),
    dict(type="MultiStepLR", milestones=[100], gamma=0.1, by_epoch=True, begin=0, end=200),
]
