# PDVC on YouCook2, TSN features (cfgs/yc2_tsn_pdvc.yml).
_base_ = ["./_base_/yc2_tsn.py"]
