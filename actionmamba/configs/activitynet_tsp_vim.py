# ActionMamba (ViM) on ActivityNet 1.3 TSP features.
_base_ = ["./activitynet_tsp_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="vim", drop_path=0.3)))
