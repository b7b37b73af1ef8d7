# The toy PDVC with the suite's DBM encoder (expand 1, d_conv 4) in place of the deformable self-attention.
_base_ = ["./pdvc.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="dbm", expand=1, d_conv=4)))
