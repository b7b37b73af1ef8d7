# The toy budget with the encoder's attention replaced by ViM (bimamba v2).
_base_ = ["./asformer_toy.py"]
model = dict(encoder_mixer=dict(kind="vim", d_state=16, d_conv=4, expand=2))
