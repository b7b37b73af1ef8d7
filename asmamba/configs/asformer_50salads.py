_base_ = ["./_base_/asformer.py"]
dataset = dict(data_root="data/50salads", sample_rate=2)  # 5 splits
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
model = dict(num_classes=19)
