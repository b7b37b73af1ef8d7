# PDVC with the suite's DBM encoder on YouCook2, TSN features.
_base_ = ["./yc2_tsn_pdvc.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="dbm", expand=1, d_conv=4)))
