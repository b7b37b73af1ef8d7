# PDVC on ActivityNet Captions, TSP features (cfgs/anet_tsp_pdvc.yml).
_base_ = ["./_base_/anet_tsp.py"]
