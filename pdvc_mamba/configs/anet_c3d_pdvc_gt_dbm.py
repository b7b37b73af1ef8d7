# Paragraph captioning with ground-truth proposals (anet_c3d_pdvc_gt.py) and the suite's DBM encoder
# (--encoder_type mamba-dbm, expand 1, d_conv 4): the suite's README command for its paper Table 4 row.
_base_ = ["./anet_c3d_pdvc_gt.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="dbm", expand=1, d_conv=4)))
