# ViViM-S on Kinetics-400, 16 x 224 (exp/k400/vivim_small/run_f16x224.sh): Vim-S ImageNet weights, drop path 0.35,
# weight decay 0.05, 50 epochs. Published: 80.47 top-1 / 94.75 top-5 (4 clips x 3 crops).
_base_ = ["./kinetics400_vit_joint_small_16x224.py"]
model = dict(backbone=dict(_delete_=True, type="ViViM", num_frames=16, img_size=224, patch_size=16, embed_dims=384,
                           depth=24, drop_path_rate=0.35, pretrained="checkpoints/vim_s_midclstok_80p5acc.pth"))
stem = dict(lr_mult=0.75 ** 25)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    "backbone.patch_embed.proj.weight": stem,
    "backbone.patch_embed.proj.bias": dict(stem, decay_mult=0.0),
    "backbone.pos_embed": dict(stem, decay_mult=0.0),
    "backbone.cls_token": dict(stem, decay_mult=0.0),
    "backbone.temporal_embedding": dict(decay_mult=0.0)}))
