# The suite's ASMamba (temporal-action-segmentation/main.py --mamba): every encoder layer is its
# AttModule_mamba around a ViM (bimamba v2, expand 2) MaskMambaBlock with drop path 0.3; decoders keep
# cross-attention; 8 layers, 256 feature maps, channel masking 0.3.
_base_ = ["./asformer_50salads.py"]
model = dict(encoder_mixer=dict(kind="vim", d_state=16, d_conv=4, expand=2),
             num_layers=8, num_f_maps=256, drop_path=0.3)
