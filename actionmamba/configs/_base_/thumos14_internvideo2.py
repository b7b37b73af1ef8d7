# THUMOS14 with InternVideo2-6B features as the video suite releases them (cg1177/thumos14_internvideo2_6b_w16_s4;
# configs/mamba_thumos_new.yaml): one <id>_spatial_feature.pt (T x 3200 tensor) per video, 16-frame clips every
# 4 frames at the video's own fps (json). The suite's loader (thumos_new) reads every listed video: a missing
# feature file is an error, not skipped as ActionFormer's I3D loader does. Annotations and splits as for I3D.
_base_ = ["./thumos14_i3d.py"]
thumos14 = dict(
    feat_folder="data/thumos/internvideo2_features",
    file_suffix="_spatial_feature",
    file_ext=".pt",
    input_dim=3200,
    skip_missing_features=False,
)
train_dataloader = dict(dataset=thumos14)
val_dataloader = dict(dataset=thumos14)
test_dataloader = dict(dataset=thumos14)
