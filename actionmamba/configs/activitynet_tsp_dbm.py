# ActionMamba (DBM) on ActivityNet 1.3 TSP features. The suite's Mamba backbone has no position embedding.
_base_ = ["./activitynet_tsp_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", use_abs_pe=False,
                           block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
