# Paragraph captioning with ground-truth proposals (anet_c3d_pdvc_gt.py) and the suite's ViM encoder
# (--encoder_type mamba-vim, expand 2, d_conv 4).
_base_ = ["./anet_c3d_pdvc_gt.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="vim", expand=2, d_conv=4)))
