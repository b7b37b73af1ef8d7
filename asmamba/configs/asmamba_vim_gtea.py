# The suite's ASMamba (temporal-action-segmentation/main.py --mamba): every encoder layer is its
# AttModule_mamba around a ViM (bimamba v2, expand 2) MaskMambaBlock with drop path 0.3; decoders keep
# cross-attention; 8 layers, 256 feature maps; on GTEA channel masking 0.3 (ASFormer uses 0.5).
_base_ = ["./asformer_gtea.py"]
model = dict(encoder_mixer=dict(kind="vim", d_state=16, d_conv=4, expand=2),
             num_layers=8, num_f_maps=256, drop_path=0.3, channel_masking_rate=0.3)
