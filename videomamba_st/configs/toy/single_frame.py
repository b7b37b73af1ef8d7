# Reference row: the toy ViT on one frame per view (the test still averages 2 clips x 3 crops, i.e. 6 single
# frames). Every frame of the toy set looks alike under every class, so this model should stay near chance (1/8).
_base_ = ["./vit_joint.py"]
train_pipeline = [
    dict(type="DecordInit"),
    dict(type="UniformSample", clip_len=1),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(36, 32), keep_ratio=False),
    dict(type="RandomCrop", size=32),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),  # filename: FiniteLossHook names it
]
test_pipeline = [
    dict(type="DecordInit"),
    dict(type="UniformSample", clip_len=1, num_clips=2, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(36, 32), keep_ratio=False),
    dict(type="ThreeCrop", crop_size=32),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(backbone=dict(num_frames=1))
