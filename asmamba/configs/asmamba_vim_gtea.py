# The suite's ASMamba (temporal-action-segmentation/main.py --mamba): its ASFormer run
# (asformer_suite_gtea.py: 8 layers, 256 feature maps, channel masking 0.3) with every encoder layer
# its AttModule_mamba around a ViM (bimamba v2, expand 2) MaskMambaBlock with drop path 0.3; decoders
# keep cross-attention.
_base_ = ["./asformer_suite_gtea.py"]
model = dict(encoder_mixer=dict(kind="vim", d_state=16, d_conv=4, expand=2), drop_path=0.3)
