# PDVC-light on YouCook2, TSN features (cfgs/yc2_tsn_pdvcl.yml).
_base_ = ["./yc2_tsn_pdvc.py"]
model = dict(captioner=dict(_delete_=True, type="LightCaptioner", rnn_size=512, input_encoding_size=512,
                            drop_prob=0.5, max_caption_len=30))
val_evaluator = dict(rerank_alpha=0.3)
test_evaluator = dict(rerank_alpha=0.3)
