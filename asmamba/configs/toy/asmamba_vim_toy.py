# The toy budget (asformer_toy.py's size and schedule) with the suite's ASMamba encoder: ViM
# MaskMambaBlocks with drop path 0.3 and GTEA's ASMamba channel masking 0.3, as asmamba_vim_gtea.py.
_base_ = ["./asformer_toy.py"]
model = dict(encoder_mixer=dict(kind="vim", d_state=16, d_conv=4, expand=2), drop_path=0.3,
             channel_masking_rate=0.3)
