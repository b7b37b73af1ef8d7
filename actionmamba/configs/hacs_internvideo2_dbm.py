# ActionMamba (DBM) on HACS with InternVideo2-6B features (the suite's run_all_hacs_mamba.sh); published
# mAP@0.5 / 0.75 / 0.95: 64.02 / 45.71 / 13.34, avg 44.56. The suite's Mamba backbone has no position embedding.
_base_ = ["./hacs_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", use_abs_pe=False,
                           block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
