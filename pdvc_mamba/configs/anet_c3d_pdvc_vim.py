# PDVC with the suite's ViM encoder (--encoder_type mamba-vim) on ActivityNet Captions, C3D features:
# bidirectional Mamba v2 (expand 2, d_conv 4, directions summed) in place of the deformable self-attention.
_base_ = ["./anet_c3d_pdvc.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="vim", expand=2, d_conv=4)))
