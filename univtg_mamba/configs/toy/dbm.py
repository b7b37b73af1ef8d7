# UniVTG-Mamba (DBM, expand 2 as the suite builds it) on the toy set: the toy ViM config with the DBM block.
_base_ = ["./vim.py"]
model = dict(encoder=dict(mixer="dbm", mixer_cfg=dict(expand=2)))
