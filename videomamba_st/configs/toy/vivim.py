# The toy budget with ViViM: 4 ViM blocks over the same space-time tokens (the suite pairs 24 ViM blocks with
# ViT-T's 12, equal in parameters; here the ViM blocks' expand-2 mixers at width 64 come to 0.8x the ViT's
# parameters at equal depth, and a CPU scan step costs several times an attention block at 136 tokens).
_base_ = ["./vit_joint.py"]
model = dict(backbone=dict(_delete_=True, type="ViViM", num_frames=8, img_size=32, patch_size=8, embed_dims=64,
                           depth=4, drop_path_rate=0.1))
