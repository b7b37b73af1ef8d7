# ASFormer as the Video Mamba Suite runs it (temporal-action-segmentation/main.py without --mamba): the
# paper's "ASFormer†" row. ASFormer's release code at the suite's sizes: 256 feature maps, 8 layers,
# channel masking 0.3 (--channel_mask_rate default; the release uses 0.5 on GTEA). The suite's ASMamba
# configs (asmamba_*_gtea.py) override this file; --drop_path_rate acts only with --mamba.
_base_ = ["./asformer_gtea.py"]
model = dict(num_f_maps=256, num_layers=8, channel_masking_rate=0.3)
