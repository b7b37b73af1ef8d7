# ActionMamba: window attention -> MaskMambaBlocks around the decomposed bidirectional Mamba (DBM,
# expand 1, d_conv 4), drop path 0.3 as in the suite. Everything else as the ActionFormer baseline.
_base_ = ["./thumos14_i3d_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
