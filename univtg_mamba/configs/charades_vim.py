# UniVTG-Mamba, ViM on Charades-STA (the suite's scripts/sta_pretrain_mamba.sh): 6 ViM blocks, 80 epochs,
# lr 3e-5 (wd 1e-3) dropped at epoch 40.
_base_ = ["./charades_univtg.py"]
model = dict(encoder=dict(_delete_=True, type="MambaInteractionEncoder", depth=6, mixer="vim", drop_path=0.1))
optim_wrapper = dict(optimizer=dict(lr=3e-5, weight_decay=1e-3))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, end_factor=1.0, by_epoch=True, begin=0, end=10),
    dict(type="MultiStepLR", milestones=[40], gamma=0.1, by_epoch=True, begin=0, end=80),
]
train_cfg = dict(max_epochs=80)
