# ASFormer as the Video Mamba Suite runs it (temporal-action-segmentation/main.py without --mamba):
# ASFormer's release code at the suite's sizes, 256 feature maps and 8 layers; everything else as the
# release (channel masking 0.3, lr 5e-4, sample rate 2). The suite's ASMamba configs override this
# file; --drop_path_rate acts only with --mamba.
_base_ = ["./asformer_50salads.py"]
model = dict(num_f_maps=256, num_layers=8)
