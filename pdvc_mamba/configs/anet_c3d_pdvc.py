# PDVC on ActivityNet Captions, C3D features (cfgs/anet_c3d_pdvc.yml).
_base_ = ["./_base_/anet_c3d.py"]
