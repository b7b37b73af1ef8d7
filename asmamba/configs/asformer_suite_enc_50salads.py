# The suite's encoder-only ASFormer (main.py --encoder_only; paper Tab. A16 "Enc-Enc"): the 3
# cross-attention decoders replaced by 3 more encoder stacks, at the suite's 50Salads settings.
_base_ = ["./asformer_suite_50salads.py"]
model = dict(encoder_only=True)
