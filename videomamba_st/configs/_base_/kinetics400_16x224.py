# Kinetics-400 at 16 x 224 with the suite's recipe (video-mamba-suite action-recognition,
# exp/k400/vivim_*/run_f16x224.sh + run_class_finetuning.py), reading the suite's annotation lists as they are:
# DATA_PATH/{train,val,test}.csv, "path,label" per line without header (--split ','), paths relative to the video
# root (--prefix); here data/kinetics400/{train,val,test}.csv and data/kinetics400/videos/. Read by VideoListDataset
# (mmaction2's VideoDataset, its labels checked against num_classes, every video opened at start-up); mmaction2's
# "path label" lists need delimiter=" " and their ann_file / data_prefix in each of the three data sets.
# Sampling "Kinetics_sparse": 16 segments, one frame from each (UniformSample); testing 4 clips x 3 crops.
# Training views: random resized crop (area 0.08-1, aspect 3/4-4/3), flip, random erasing 0.25, two views of each
# sampled clip (num_sample 2), mixup 0.8 / cutmix 1.0 with label smoothing 0.1. Not reproduced: RandAugment (needs
# torchvision, unusable here). The model files set the network, weight decay and length of the schedule.
_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["videomamba_st"], allow_failed_imports=False)
default_scope = "mmaction"

num_classes = 400
data_root = "data/kinetics400/"
train_pipeline = [
    dict(type="DecordInit"),
    dict(type="UniformSample", clip_len=16),
    dict(type="DecordDecode"),
    dict(type="RandomResizedCrop", area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type="Resize", scale=(224, 224), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5),
    dict(type="RandomErasing", erase_prob=0.25, mode="rand"),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),  # filename: FiniteLossHook names it
]
val_pipeline = [
    dict(type="DecordInit"),
    dict(type="UniformSample", clip_len=16, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, 224)),
    dict(type="CenterCrop", crop_size=224),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),
]
test_pipeline = [
    dict(type="DecordInit"),
    dict(type="UniformSample", clip_len=16, num_clips=4, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, 224)),
    dict(type="ThreeCrop", crop_size=224),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),
]
lists = dict(delimiter=",", data_prefix=dict(video=data_root + "videos"))
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="repeat_pseudo_collate"),
    dataset=dict(type="RepeatAugVideoListDataset", num_repeats=2, sample_once=True, num_classes=num_classes,
                 ann_file=data_root + "train.csv", pipeline=train_pipeline, **lists))
val_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type="VideoListDataset", ann_file=data_root + "val.csv", num_classes=num_classes,
                 pipeline=val_pipeline, test_mode=True, **lists))
test_dataloader = dict(
    batch_size=1, num_workers=8, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type="VideoListDataset", ann_file=data_root + "test.csv", num_classes=num_classes,
                 pipeline=test_pipeline, test_mode=True, **lists))
val_evaluator = dict(type="VideoClassificationMetric")
test_evaluator = val_evaluator

# ImageNet mean / std (the suite's imagenet_default_mean_and_std); mixup / cutmix picked at random per batch.
model = dict(_scope_="mmaction", type="Recognizer3D", data_preprocessor=dict(
    type="ActionDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    format_shape="NCTHW",
    blending=dict(type="RandomBatchAugment",
                  augments=[dict(type="MixupBlending", alpha=0.8, num_classes=num_classes),
                            dict(type="CutmixBlending", alpha=1.0, num_classes=num_classes)])))

# lr 2e-4 per 256 samples, scaled by the suite's 16 GPUs x 32 clips x 2 views: 8e-4; warm-up from 4e-6 over 5
# epochs, cosine to 4e-6, per iteration. bf16 autocast as the run scripts (--bf16; GPU only: on CPU use
# optim_wrapper.type=OptimWrapper). No weight decay on 1-d parameters (biases, norms, D).
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=70, val_begin=1, val_interval=5)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(
    type="AmpOptimWrapper", dtype="bfloat16",
    optimizer=dict(type="AdamW", lr=8e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type="LinearLR", start_factor=4e-6 / 8e-4, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=65, eta_min=4e-6, by_epoch=True, begin=5, end=70,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=512)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3, save_best="auto"))
