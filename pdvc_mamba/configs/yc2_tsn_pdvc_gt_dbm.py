# Paragraph captioning on YouCook2 with ground-truth proposals (yc2_tsn_pdvc_gt.py) and the suite's DBM encoder.
_base_ = ["./yc2_tsn_pdvc_gt.py"]
model = dict(transformer=dict(encoder_mixer=dict(kind="dbm", expand=1, d_conv=4)))
