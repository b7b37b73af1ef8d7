# ActionMamba (DBM) on HACS with InternVideo2 features (published avg mAP 44.56).
_base_ = ["./hacs_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
