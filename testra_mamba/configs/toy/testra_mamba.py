# The suite's Mamba TeSTra on the toy set: the toy TeSTra budget, long memory off, one Mamba block decoder.
_base_ = ["./testra.py"]
model = dict(long_memory=None,
             decoder=dict(_delete_=True, type="mamba", num_layers=1, mixer_cfg=dict(d_state=16, d_conv=4, expand=2)))
train_dataloader = dict(dataset=dict(long_memory_ticks=0))
val_dataloader = dict(dataset=dict(long_memory_ticks=0))
test_dataloader = dict(dataset=dict(long_memory_ticks=0))
