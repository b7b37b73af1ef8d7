# The toy comparison budget (tools/compare.py videomamba_st --toy): the ViT-joint Kinetics config on the toy set
# (videomamba_st/toy.py: 12 classes = colour order x motion direction, 32 frames of 64 x 64). 8 frames sampled as
# the Kinetics config does (one per segment), resized to 36 x 32 (w x h) and cropped to 32 x 32; a 4-block, 64-wide
# model trained from scratch for 10 epochs. Validation is the multi-view test (2 clips x 3 crops). No flip: it
# would turn "right" into "left"; no mixup. Every other toy config inherits this one.
_base_ = ["../kinetics400_vit_joint_tiny_16x224.py"]
data_root = "data/toy/videomamba_st/"
train_pipeline = [
    dict(type="DecordInit"),
    dict(type="UniformSample", clip_len=8),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(36, 32), keep_ratio=False),
    dict(type="RandomCrop", size=32),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),  # filename: FiniteLossHook names it
]
test_pipeline = [
    dict(type="DecordInit"),
    dict(type="UniformSample", clip_len=8, num_clips=2, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(36, 32), keep_ratio=False),
    dict(type="ThreeCrop", crop_size=32),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),
]
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True, collate_fn=dict(type="pseudo_collate"),
    dataset=dict(_delete_=True, type="VideoListDataset", ann_file=data_root + "train_list_videos.txt", num_classes=12,
                 data_prefix=dict(video=data_root + "videos_train"), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=False,
    dataset=dict(ann_file=data_root + "val_list_videos.txt", data_prefix=dict(video=data_root + "videos_val"),
                 delimiter=" ", pipeline=test_pipeline, num_classes=12))
test_dataloader = val_dataloader
model = dict(
    data_preprocessor=dict(blending=None),
    backbone=dict(num_frames=8, img_size=32, patch_size=8, embed_dims=64, num_heads=2, num_transformer_layers=4),
    cls_head=dict(num_classes=12, in_channels=64, label_smooth_eps=0.0))
train_cfg = dict(max_epochs=10, val_interval=10)
optim_wrapper = dict(_delete_=True, type="OptimWrapper", paramwise_cfg=dict(flat_decay_mult=0.0),
                     optimizer=dict(type="AdamW", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=9, eta_min=1e-5, by_epoch=True, begin=1, end=10,
         convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1, save_best=None))
