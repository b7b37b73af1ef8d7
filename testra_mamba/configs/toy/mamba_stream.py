# The causal Mamba stream on the toy set: the toy TeSTra budget and history (128 + 20 ticks), one stream.
_base_ = ["./testra.py"]
model = dict(_delete_=True, type="MambaStreamAnticipator", annotations={{_base_.annotations}}, history_ticks=148,
             input_dims=(32, 32), d_model=64, num_layers=1, mixer_cfg=dict(d_state=16, d_conv=4, expand=2))
