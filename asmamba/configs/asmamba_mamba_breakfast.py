# The encoder mixer as causal Mamba (one direction only).
_base_ = ["./asmamba_vim_breakfast.py"]
model = dict(encoder_mixer=dict(kind="mamba"))
