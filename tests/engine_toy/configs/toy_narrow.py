_base_ = ["../../../common/configs/default_runtime.py"]
custom_imports = dict(imports=["engine_toy"], allow_failed_imports=False)

data_root = "data/toy/engine_toy"
model = dict(type="ToyTagger", in_dim=8, hidden=16, num_classes=4, dropout=0.3)

train_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="ToySequenceDataset", data_root=data_root, split="train", augment=True))
val_dataloader = dict(
    batch_size=16, num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="ToySequenceDataset", data_root=data_root, split="val"))
test_dataloader = val_dataloader
val_evaluator = dict(type="ToyAccuracy")
test_evaluator = val_evaluator

train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type="AdamW", lr=2e-2, weight_decay=1e-2))
param_scheduler = [dict(type="CosineAnnealingLR", T_max=4, by_epoch=True, eta_min=1e-3)]
