# ActivityNet Captions with I3D (rgb 1024 + flow 1024, <13-character id>_rgb.npy / _flow.npy) and VGGish audio
# (128, <id>.npy) features, each resized to 100 steps and concatenated (2176). Videos listed in
# I3D_vggish_invalid_videos.json have no features and are dropped.
_base_ = ["./anet_c3d.py"]
dataset = dict(feature_types=["i3d_rgb", "i3d_flow", "vggish"],
               feature_folders=["data/anet/features/i3d", "data/anet/features/i3d", "data/anet/features/vggish"],
               invalid_video_files=["data/anet/features/I3D_vggish_invalid_videos.json"])
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
model = dict(feature_dim=2176)
