# Upstream ASMamba: ViM (bimamba v2, expand 2) in the encoder's attention slot, decoders keep
# cross-attention; 8 layers, 256 feature maps, drop path 0.3 on the mixer branch.
_base_ = ["./asformer_breakfast.py"]
model = dict(encoder_mixer=dict(kind="vim", d_state=16, d_conv=4, expand=2),
             num_layers=8, num_f_maps=256, drop_path=0.3)
