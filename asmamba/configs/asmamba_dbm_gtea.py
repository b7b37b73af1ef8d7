# The encoder mixer as DBM (decomposed bidirectional Mamba, expand 1 as the suite builds it).
_base_ = ["./asmamba_vim_gtea.py"]
model = dict(encoder_mixer=dict(kind="dbm", expand=1))
