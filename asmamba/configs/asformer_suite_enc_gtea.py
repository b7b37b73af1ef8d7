# The suite's encoder-only ASFormer (main.py --encoder_only; paper Tab. 2 "ASFormer, Enc"): the 3
# cross-attention decoders replaced by 3 more encoder stacks, at the suite's GTEA settings.
_base_ = ["./asformer_suite_gtea.py"]
model = dict(encoder_only=True)
