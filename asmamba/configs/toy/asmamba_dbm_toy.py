# The toy ASMamba with DBM (the suite's MaskMambaBlock_DBM: decomposed bidirectional Mamba, expand 1).
_base_ = ["./asmamba_vim_toy.py"]
model = dict(encoder_mixer=dict(kind="dbm", d_state=16, d_conv=4, expand=1))
