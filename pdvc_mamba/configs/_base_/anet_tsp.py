# ActivityNet Captions with TSP features (512-d, one <13-character id>.npy per video), resized to 100 steps.
_base_ = ["./anet_c3d.py"]
dataset = dict(feature_types=["tsp"], feature_folders=["data/anet/features/tsp"])
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
model = dict(feature_dim=512)
