# The toy comparison budget (tools/compare.py asmamba --toy): GTEA's config on the toy set
# (asmamba/toy.py), a smaller model and few epochs. Every variant inherits this size and schedule.
_base_ = ["../asformer_gtea.py"]
dataset = dict(data_root="data/toy/asmamba")
train_dataloader = dict(dataset=dataset)
val_dataloader = dict(dataset=dataset, batch_size=5)
test_dataloader = dict(dataset=dataset, batch_size=5)
model = dict(num_f_maps=64, num_layers=7)
train_cfg = dict(max_epochs=20, val_interval=4)  # 5 validations: the report's curves
default_hooks = dict(checkpoint=dict(interval=20))
