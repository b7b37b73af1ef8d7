# ActionMamba (ViM) on THUMOS14 with InternVideo2-6B features; published mAP@0.3:0.1:0.7:
# 86.22 / 82.87 / 76.42 / 66.43 / 50.25, avg 72.44.
_base_ = ["./thumos14_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
