# The toy budget with ViViM: ViM blocks over the same space-time tokens (twice as many blocks: a ViM block has
# about half a Transformer block's parameters, as ViViM-T's 24 blocks against ViT-T's 12).
_base_ = ["./vit_joint.py"]
model = dict(backbone=dict(_delete_=True, type="ViViM", num_frames=8, img_size=32, patch_size=8, embed_dims=64,
                           depth=8, drop_path_rate=0.1))
