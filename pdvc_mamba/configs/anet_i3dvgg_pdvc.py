# PDVC on ActivityNet Captions, I3D + VGGish features (cfgs/anet_i3dvgg_pdvc.yml).
_base_ = ["./_base_/anet_i3dvgg.py"]
