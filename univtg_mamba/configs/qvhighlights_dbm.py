# UniVTG-Mamba, DBM on QVHighlights: the ViM config with the DBM block (expand 2: the suite passes no ssm_cfg
# and mamba_new's default expand is 2).
_base_ = ["./qvhighlights_vim.py"]
model = dict(encoder=dict(mixer="dbm", mixer_cfg=dict(expand=2)))
