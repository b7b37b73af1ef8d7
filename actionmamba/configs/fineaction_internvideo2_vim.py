# ActionMamba (ViM) on FineAction with InternVideo2-1B features; published mAP@0.5 / 0.75 / 0.95:
# 44.15 / 28.30 / 6.14, avg 28.36.
_base_ = ["./fineaction_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
