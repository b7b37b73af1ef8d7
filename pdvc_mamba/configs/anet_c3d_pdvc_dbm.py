# PDVC with the suite's DBM encoder (--encoder_type mamba-dbm) on ActivityNet Captions, C3D features: each
# encoder layer's deformable self-attention becomes DBM (expand 1, d_conv 4) over the flattened pyramid.
_base_ = ["./anet_c3d_pdvc.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="dbm", expand=1, d_conv=4)))
