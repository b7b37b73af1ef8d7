# The toy budget with mmaction2's TimeSformer: divided space-time attention (temporal, then spatial, per block).
_base_ = ["./vit_joint.py"]
model = dict(backbone=dict(attention_type="divided_space_time"))
