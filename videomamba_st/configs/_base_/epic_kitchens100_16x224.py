# EPIC-Kitchens-100 segment classification at 16 x 224 with the suite's fine-tuning recipe (video-mamba-suite
# egocentric-understanding, scripts/cls_ft/run_slurm_finetune_cls_bs512_*.sh + engine/main_lavila_finetune_cls.py):
# 16 frames spread over the segment (jittered in training), random resized crop (area 0.5-1, no flip), mixup 0.8 /
# cutmix 1.0 with label smoothing 0.1, dropout 0.5 before the classifier, SGD (momentum 0.9, weight decay 5e-4),
# lr 3e-3 per 128 clips (batch 8 GPUs x 64 = 512: 0.012), 2 warm-up epochs from 4e-6, cosine to 4e-5 over 100
# epochs, bf16; testing 1 clip x 1 centre crop; OpenAI-CLIP mean / std (the suite starts from CLIP).
# The suite trains one 3806-way action classifier and reads verb and noun off it; here verb and noun are two
# classifiers (the label files set `label` and the class count). Data in the official layout:
# data/epic-kitchens-100/{EPIC_100_train.csv, EPIC_100_validation.csv, videos: P01/videos/P01_01.MP4, ...}.
_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["videomamba_st"], allow_failed_imports=False)
default_scope = "mmaction"

data_root = "data/epic-kitchens-100/"
label = "verb"
num_classes = 97
train_pipeline = [
    dict(type="DecordInit"),
    dict(type="TrimToSegment"),
    dict(type="UniformSample", clip_len=16),
    dict(type="DecordDecode"),
    dict(type="RandomResizedCrop", area_range=(0.5, 1.0)),
    dict(type="Resize", scale=(224, 224), keep_ratio=False),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename")),  # filename: FiniteLossHook names it
]
test_pipeline = [
    dict(type="DecordInit"),
    dict(type="TrimToSegment"),
    dict(type="UniformSample", clip_len=16, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="Resize", scale=(-1, 224)),
    dict(type="CenterCrop", crop_size=224),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", meta_keys=("img_shape", "filename", "sample_id")),  # sample_id: narration_id
]
dataset = dict(type="EpicKitchensDataset", label=label, data_prefix=dict(video=data_root))
train_dataloader = dict(
    batch_size=64, num_workers=8, persistent_workers=True, sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(ann_file=data_root + "EPIC_100_train.csv", pipeline=train_pipeline, **dataset))
val_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True, sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(ann_file=data_root + "EPIC_100_validation.csv", pipeline=test_pipeline, test_mode=True,
                 **dataset))
test_dataloader = val_dataloader
val_evaluator = dict(type="VideoClassificationMetric")
test_evaluator = val_evaluator

model = dict(
    _scope_="mmaction", type="Recognizer3D",
    data_preprocessor=dict(
        type="ActionDataPreprocessor", mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305], format_shape="NCTHW",
        blending=dict(type="RandomBatchAugment",
                      augments=[dict(type="MixupBlending", alpha=0.8, num_classes=num_classes),
                                dict(type="CutmixBlending", alpha=1.0, num_classes=num_classes)])),
    cls_head=dict(type="TimeSformerHead", num_classes=num_classes, in_channels=768, dropout_ratio=0.5,
                  label_smooth_eps=0.1, average_clips="prob"))

train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=100, val_begin=1, val_interval=5)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
# AVION: no weight decay on 1-d parameters, biases, norms and position embeddings
optim_wrapper = dict(
    type="AmpOptimWrapper", dtype="bfloat16",
    optimizer=dict(type="SGD", lr=0.012, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(flat_decay_mult=0.0, custom_keys={"pos_embed": dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type="LinearLR", start_factor=4e-6 / 0.012, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=98, eta_min=4e-5, by_epoch=True, begin=2, end=100,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=512)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3, save_best="auto"))
