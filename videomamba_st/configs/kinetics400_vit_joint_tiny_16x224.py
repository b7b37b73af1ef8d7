# ViT-T with joint space-time attention on Kinetics-400, 16 x 224: the suite's ViT counterpart of ViViM-T (DeiT-T
# inflated to video: one class token, per-frame position embedding + a temporal embedding, attention over all
# 16 x 196 patch tokens). mmaction2's TimeSformer with attention_type="joint_space_time" is that model (its drop path
# grows to 0.1, as ViViM-T's). `pretrained` takes ImageNet ViT weights in mmaction2's layout.
_base_ = ["./_base_/kinetics400_16x224.py"]
model = dict(
    backbone=dict(type="TimeSformer", num_frames=16, img_size=224, patch_size=16, embed_dims=192, num_heads=3,
                  num_transformer_layers=12, attention_type="joint_space_time", pretrained=None),
    cls_head=dict(type="TimeSformerHead", num_classes=400, in_channels=192, label_smooth_eps=0.1,
                  average_clips="prob"))
