# ActionMamba (DBM) on THUMOS14 with InternVideo2-6B features (the suite's run_all_thumos_mamba.sh); published
# mAP@0.3:0.1:0.7: 86.89 / 83.09 / 76.90 / 65.91 / 50.82, avg 72.72.
_base_ = ["./thumos14_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
