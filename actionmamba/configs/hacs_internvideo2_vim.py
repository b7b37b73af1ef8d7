# ActionMamba (ViM) on HACS with InternVideo2 features (published avg mAP 44.26).
_base_ = ["./hacs_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
