# TimeSformer-B/16 (mmaction2's, divided space-time attention) for EPIC-Kitchens-100 verbs, 16 x 224: the suite's
# baseline for TimeMamba. `pretrained`: ImageNet ViT-B/16 in mmaction2's layout (its TimeSformer configs' file);
# the suite's own starting point is CLIP ViT-B/16 after Ego4D pre-training (convert it for TimeMamba, README).
_base_ = ["./_base_/epic_kitchens100_16x224.py"]
model = dict(backbone=dict(type="TimeSformer", num_frames=16, img_size=224, patch_size=16, embed_dims=768,
                           num_heads=12, num_transformer_layers=12, attention_type="divided_space_time",
                           pretrained="checkpoints/vit_base_patch16_224.pth"))
