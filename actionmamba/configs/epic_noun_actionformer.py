# ActionFormer on EPIC-Kitchens 100 nouns (300 classes, 30 + 5 epochs; published avg mAP 21.88).
_base_ = ["./epic_verb_actionformer.py"]
noun = dict(ann_file="data/epic_kitchens/annotations/epic_kitchens_100_noun.json", num_classes=300)
train_dataloader = dict(dataset=noun)
val_dataloader = dict(dataset=noun)
test_dataloader = dict(dataset=noun)
model = dict(num_classes=300)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-8, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", T_max=30, eta_min=1e-8, by_epoch=True, begin=5, end=35,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=35, val_interval=35)
