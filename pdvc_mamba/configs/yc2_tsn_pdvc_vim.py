# PDVC with the suite's ViM encoder on YouCook2, TSN features.
_base_ = ["./yc2_tsn_pdvc.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="vim", expand=2, d_conv=4)))
