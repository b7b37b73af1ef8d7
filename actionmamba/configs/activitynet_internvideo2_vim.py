# ActionMamba (ViM) on ActivityNet 1.3 with InternVideo2-6B features; published mAP@0.5 / 0.75 / 0.95:
# 62.31 / 43.17 / 9.65, avg 41.77.
_base_ = ["./activitynet_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
