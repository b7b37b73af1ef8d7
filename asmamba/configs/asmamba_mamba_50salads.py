# The encoder mixer as causal Mamba (one direction only).
_base_ = ["./asmamba_vim_50salads.py"]
model = dict(encoder_mixer=dict(kind="mamba"))
