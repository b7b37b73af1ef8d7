# ViViM-T on Kinetics-400, 16 x 224 (exp/k400/vivim_tiny/run_f16x224.sh): Vim-T ImageNet weights inflated to video,
# drop path 0.1, weight decay 0.1, 70 epochs. Published: 77.51 top-1 / 93.27 top-5 (4 clips x 3 crops).
# The suite's layer-wise lr decay (0.75, 24 layers) matches no ViViM layer name, so it leaves every block at the full
# rate but multiplies the patch embedding, position embedding and class token by 0.75 ** 25 (~7.5e-4); reproduced.
_base_ = ["./kinetics400_vit_joint_tiny_16x224.py"]
model = dict(backbone=dict(_delete_=True, type="ViViM", num_frames=16, img_size=224, patch_size=16, embed_dims=192,
                           depth=24, drop_path_rate=0.1, pretrained="checkpoints/vim_t_midclstok_76p1acc.pth"))
stem = dict(lr_mult=0.75 ** 25)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    "backbone.patch_embed.proj.weight": stem,
    "backbone.patch_embed.proj.bias": dict(stem, decay_mult=0.0),
    "backbone.pos_embed": dict(stem, decay_mult=0.0),
    "backbone.cls_token": dict(stem, decay_mult=0.0),
    "backbone.temporal_embedding": dict(decay_mult=0.0)}))
