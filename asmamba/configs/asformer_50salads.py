# ASFormer as released (ChinaYi/ASFormer main.py): 64 feature maps, 10 layers; the paper's "ASFormer"
# (official) row. The suite's own ASFormer runs: asformer_suite_50salads.py.
_base_ = ["./_base_/asformer.py"]
dataset = dict(data_root="data/50salads", sample_rate=2)  # 5 splits
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
model = dict(num_classes=19)
