# TeSTra with the box kernel (decay 1.0): upstream's testra_long_64_work_5_anti_2_kinetics_2x_mixup_v+n_eql_box.yaml.
_base_ = ["./_base_/testra_ek100.py"]
model = dict(long_memory=dict(decay=1.0))
