# PDVC-light on ActivityNet Captions, C3D features (cfgs/anet_c3d_pdvcl.yml): the light LSTM captioner and
# joint ranking with caption weight 0.3.
_base_ = ["./anet_c3d_pdvc.py"]
model = dict(captioner=dict(_delete_=True, type="LightCaptioner", rnn_size=512, input_encoding_size=512,
                            drop_prob=0.5, max_caption_len=30))
val_evaluator = dict(rerank_alpha=0.3)
test_evaluator = dict(rerank_alpha=0.3)
