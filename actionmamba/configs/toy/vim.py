# ActionMamba (vim mixer) on the toy set: the toy ActionFormer config with the backbone swapped.
_base_ = ["./actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
