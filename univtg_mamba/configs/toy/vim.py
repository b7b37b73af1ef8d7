# UniVTG-Mamba (ViM) on the toy set: the toy UniVTG config with 3 ViM blocks over [text ; video] (the suite's
# 6 blocks against UniVTG's 4 layers, halved as the toy baseline is).
_base_ = ["./univtg.py"]
model = dict(encoder=dict(_delete_=True, type="MambaInteractionEncoder", depth=3, mixer="vim", drop_path=0.1))
