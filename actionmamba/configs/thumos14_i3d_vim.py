# ActionMamba with the ViM (bidirectional Mamba v2, expand 2, directions summed) mixer.
_base_ = ["./thumos14_i3d_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
