# ActionMamba with the causal (forward-only) Mamba mixer, expand 2: the ablation without a backward scan.
_base_ = ["./thumos14_i3d_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="mamba", drop_path=0.3)))
