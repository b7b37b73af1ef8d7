# The toy budget with the encoder's attention replaced by DBM.
_base_ = ["./asformer_toy.py"]
model = dict(encoder_mixer=dict(kind="dbm", d_state=16, d_conv=4, expand=1))
