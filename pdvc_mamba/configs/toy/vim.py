# The toy PDVC with the suite's ViM encoder (expand 2, d_conv 4) in place of the deformable self-attention.
_base_ = ["./pdvc.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="vim", expand=2, d_conv=4)))
