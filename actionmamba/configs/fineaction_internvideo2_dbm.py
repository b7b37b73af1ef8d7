# ActionMamba (DBM) on FineAction with InternVideo2-1B features (the suite's run_all_fineaction_mamba.sh);
# published mAP@0.5 / 0.75 / 0.95: 45.44 / 28.82 / 6.79, avg 29.04.
_base_ = ["./fineaction_internvideo2_actionformer.py"]
model = dict(backbone=dict(type="MambaBackbone", block=dict(_delete_=True, mixer="dbm", drop_path=0.3)))
