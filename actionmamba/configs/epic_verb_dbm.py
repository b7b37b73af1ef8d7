# ActionMamba (DBM) on EPIC-Kitchens 100 verbs.
_base_ = ["./epic_verb_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
