# The toy ASMamba with causal Mamba (one direction only; not in the suite).
_base_ = ["./asmamba_vim_toy.py"]
model = dict(encoder_mixer=dict(kind="mamba", d_state=16, d_conv=4, expand=2))
