_base_ = ["./toy_narrow.py"]
model = dict(hidden=64)
