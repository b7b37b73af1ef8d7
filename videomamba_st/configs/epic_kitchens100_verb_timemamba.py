# TimeMamba-B/16 for EPIC-Kitchens-100 verbs: the TimeSformer config with the temporal attention replaced by the
# tanh-gated ViM scan (alpha = 0 at init, so the ImageNet ViT starts unchanged). Published (suite, action classes
# read off a 3806-way classifier): verb top-1 68.5 against TimeSformer's 65.2.
_base_ = ["./epic_kitchens100_verb_timesformer.py"]
model = dict(backbone=dict(type="TimeMamba"))
