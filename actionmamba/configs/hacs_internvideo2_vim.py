# ActionMamba (ViM) on HACS with InternVideo2-6B features; published mAP@0.5 / 0.75 / 0.95: 63.78 / 45.45 / 13.01,
# avg 44.26. The suite's Mamba backbone has no position embedding.
_base_ = ["./hacs_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", use_abs_pe=False,
                           block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
