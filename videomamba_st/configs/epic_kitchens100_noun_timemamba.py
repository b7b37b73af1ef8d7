# TimeMamba-B/16 for EPIC-Kitchens-100 nouns: the noun TimeSformer config with the temporal ViM adapter. Published
# (suite): noun top-1 55.8 against TimeSformer's 55.0.
_base_ = ["./epic_kitchens100_noun_timesformer.py"]
model = dict(backbone=dict(type="TimeMamba"))
