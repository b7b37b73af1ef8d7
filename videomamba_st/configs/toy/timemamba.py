# The toy budget with TimeMamba: TimeSformer whose temporal attention is a tanh-gated ViM scan over each patch's frames.
_base_ = ["./timesformer.py"]
model = dict(backbone=dict(type="TimeMamba"))
