# The suite's Mamba TeSTra (OpenGVLab/video-mamba-suite, action-anticipation/configs/EK100/TESTRA/
# mamba_work_5_layer_1_kinetics_2x.yaml): long memory off, the work-memory causal Transformer replaced by one
# mamba_ssm Block (RMSNorm, fp32 residual) + final RMSNorm over [10 work tokens ; 2 queries], d_model 1024.
_base_ = ["./_base_/testra_ek100.py"]
model = dict(d_model=1024, dim_feedforward=1024, long_memory=None,
             decoder=dict(_delete_=True, type="mamba", num_layers=1, mixer_cfg=dict(d_state=16, d_conv=4, expand=2)))
train_dataloader = dict(dataset=dict(long_memory_ticks=0, clip_mixup_rate=0.25))
val_dataloader = dict(dataset=dict(long_memory_ticks=0))
test_dataloader = dict(dataset=dict(long_memory_ticks=0))
