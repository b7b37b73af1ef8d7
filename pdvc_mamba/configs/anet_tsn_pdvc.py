# PDVC on ActivityNet Captions, TSN features (cfgs/anet_tsn_pdvc.yml).
_base_ = ["./_base_/anet_tsn.py"]
