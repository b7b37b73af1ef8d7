# Beyond the suite: one causal Mamba stream over the whole history (MambaStreamAnticipator). It trains on the
# same 69 s history TeSTra reads (every tick a token) and evaluates by streaming each video from its start.
_base_ = ["./_base_/testra_ek100.py"]
model = dict(_delete_=True, type="MambaStreamAnticipator", annotations={{_base_.annotations}},
             history_ticks=276, input_dims=(1024, 1024), d_model=1024, num_layers=2,
             mixer_cfg=dict(d_state=16, d_conv=4, expand=2), dropout=0.1, cls_dropout=0.8,
             work_memory={{_base_.work_memory}}, anticipation={{_base_.anticipation}},
             anticipation_gap_ticks={{_base_.anticipation_gap_ticks}}, eql=dict(gamma=0.95, lambda_=3e-3))
