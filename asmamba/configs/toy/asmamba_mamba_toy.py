# The toy budget with the encoder's attention replaced by causal Mamba.
_base_ = ["./asformer_toy.py"]
model = dict(encoder_mixer=dict(kind="mamba", d_state=16, d_conv=4, expand=2))
