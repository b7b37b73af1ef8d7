# ActionMamba (DBM) on ActivityNet 1.3 with InternVideo2-6B features (the suite's run_all_anet_mamba.sh);
# published mAP@0.5 / 0.75 / 0.95: 62.43 / 43.49 / 10.23, avg 42.02.
_base_ = ["./activitynet_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
