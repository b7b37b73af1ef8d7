# ActivityNet 1.3 with InternVideo2-6B features as the video suite releases them (cg1177/
# activitynet_internvideo2_6b_w16_s8; configs/mamba_anet_new.yaml): one v_<id>_spatial_pool_feature_6.pt
# (T x 3200 tensor) per video, 16-frame clips every 8 frames at 30 fps, every video resized to 192 steps.
# Class-agnostic, fused with the suite's InternVideo2 video classifier (its scores softmaxed where they lie
# outside [0, 1], as the suite's postprocessing does). Annotations as for TSP (ActionFormer's filtered json).
_base_ = ["./activitynet_tsp.py"]
data_root = "data/anet_1.3"
activitynet = dict(
    feat_folder=data_root + "/internvideo2_features",
    file_suffix="_spatial_pool_feature_6",
    file_ext=".pt",
    input_dim=3200,
    feat_stride=8,
    num_frames=16,
    default_fps=30,
)
train_dataloader = dict(dataset=activitynet)
val_dataloader = dict(dataset=activitynet)
test_dataloader = dict(dataset=activitynet)
val_evaluator = dict(
    external_scores=data_root + "/annotations/anet_UMTv2_6B_k710+K40_f16_frozenTuning.json_converted.json",
    softmax_out_of_range=True,
)
test_evaluator = val_evaluator
