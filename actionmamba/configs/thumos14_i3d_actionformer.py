# ActionFormer on THUMOS14 I3D (published avg mAP 66.83 over tIoU 0.3:0.7).
_base_ = ["./_base_/actionformer.py", "./_base_/thumos14_i3d.py"]
