# ActivityNet Captions with TSN features: appearance (resnet, 2048-d) and motion (bn, 1024-d) streams, one
# <11-character YouTube id>_resnet.npy / _bn.npy per video, each resized to 100 steps, concatenated (3072).
# Videos listed in resnet_bn_invalid_videos.json have no features and are dropped.
_base_ = ["./anet_c3d.py"]
dataset = dict(feature_types=["resnet", "bn"],
               feature_folders=["data/anet/features/resnet_bn", "data/anet/features/resnet_bn"],
               invalid_video_files=["data/anet/features/resnet_bn_invalid_videos.json"])
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
model = dict(feature_dim=3072)
