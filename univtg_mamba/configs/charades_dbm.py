# UniVTG-Mamba, DBM on Charades-STA: the ViM config with the DBM block (expand 2, as the suite builds it).
_base_ = ["./charades_vim.py"]
model = dict(encoder=dict(mixer="dbm", mixer_cfg=dict(expand=2)))
