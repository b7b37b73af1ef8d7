# ASFormer as upstream trains it (ChinaYi/ASFormer main.py); the data set configs fill in data_root,
# num_classes and what else differs per data set. Split K: train.sh sets *_dataloader.dataset.split.
_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["asmamba"], allow_failed_imports=False)

model = dict(type="ASFormer", num_classes=None, input_dim=2048, num_f_maps=64, num_layers=10, num_decoders=3,
             r1=2, r2=2, channel_masking_rate=0.3, smooth_weight=0.15, smooth_clamp=16.0)

dataset = dict(type="ActionSegmentationDataset", data_root=None, split=1, sample_rate=1)
train_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="action_segmentation_collate"),
    dataset=dict(subset="train", **dataset))
# Upstream evaluates on the test split during training (there is no validation split).
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="action_segmentation_collate"),
    dataset=dict(subset="test", **dataset))
test_dataloader = val_dataloader
val_evaluator = dict(type="ActionSegmentationMetric")
test_evaluator = val_evaluator

train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=10)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type="Adam", lr=5e-4, weight_decay=1e-5))
# ReduceLROnPlateau(mode min, factor 0.5, patience 3) stepped on each epoch's summed training loss.
param_scheduler = [dict(type="TrainLossPlateauLR", factor=0.5, patience=3)]
custom_hooks = [dict(type="TrainLossPlateauHook"), dict(type="DataFitsModelHook")]
default_hooks = dict(checkpoint=dict(interval=10))
randomness = dict(seed=19980125)
