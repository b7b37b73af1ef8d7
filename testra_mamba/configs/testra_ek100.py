# TeSTra, ESA kernel (decay 0.9): upstream's EK100 config (see _base_/testra_ek100.py).
_base_ = ["./_base_/testra_ek100.py"]
