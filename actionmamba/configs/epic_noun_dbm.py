# ActionMamba (DBM) on EPIC-Kitchens 100 nouns.
_base_ = ["./epic_noun_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
