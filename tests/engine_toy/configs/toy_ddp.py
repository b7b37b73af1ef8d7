_base_ = ["./toy_narrow.py"]
custom_hooks = [dict(type="RecordSamplesHook")]
train_cfg = dict(max_epochs=2)
