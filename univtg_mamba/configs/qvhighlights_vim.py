# UniVTG-Mamba, ViM on QVHighlights (the suite's scripts/qvhl_pretrain_mamba.sh, mamba_type vim): the
# interaction encoder becomes 6 ViM blocks over [text ; video], with the suite's Mamba recipe: lr 3e-4
# dropped every 40 epochs, saliency loss weights 2 / 2.
_base_ = ["./qvhighlights_univtg.py"]
model = dict(
    encoder=dict(_delete_=True, type="MambaInteractionEncoder", depth=6, mixer="vim", drop_path=0.1),
    loss_weights=dict(loss_s_inter=2.0, loss_s_intra=2.0),
)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, end_factor=1.0, by_epoch=True, begin=0, end=10),
    dict(type="MultiStepLR", milestones=[40, 80, 120, 160], gamma=0.1, by_epoch=True, begin=0, end=200),
]
