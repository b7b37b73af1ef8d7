# TimeSformer-B/16 for EPIC-Kitchens-100 nouns (300 classes): the verb config with the noun label.
_base_ = ["./epic_kitchens100_verb_timesformer.py"]
train_dataloader = dict(dataset=dict(label="noun"))
val_dataloader = dict(dataset=dict(label="noun"))
test_dataloader = val_dataloader
model = dict(
    data_preprocessor=dict(blending=dict(augments=[dict(type="MixupBlending", alpha=0.8, num_classes=300),
                                                   dict(type="CutmixBlending", alpha=1.0, num_classes=300)])),
    cls_head=dict(num_classes=300))
