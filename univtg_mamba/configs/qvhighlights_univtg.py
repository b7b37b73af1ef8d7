# UniVTG on QVHighlights, trained from scratch (the suite's scripts/qvhl_pretrain.sh): 4 Transformer layers.
_base_ = ["./_base_/univtg.py", "./_base_/qvhighlights.py"]
