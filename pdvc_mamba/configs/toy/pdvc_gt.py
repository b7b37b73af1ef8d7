# The toy PDVC (pdvc.py) trained as the suite trains paragraph captioning (anet_c3d_pdvc_gt.py): each video's
# ground-truth events as the decoder queries, in training and validation, the caption loss only, no joint
# ranking, and the best checkpoint by pc = para_METEOR + para_CIDEr + para_Bleu_4.
_base_ = ["./pdvc.py"]
model = dict(transformer_input_type="gt_proposals", matcher=dict(cost_class=0, cost_bbox=1e-5, cost_giou=4),
             loss_weights=dict(ce=0, bbox=0, giou=0, counter=0, caption=2))
val_evaluator = dict(rerank_alpha=None)
test_evaluator = dict(rerank_alpha=None)
default_hooks = dict(checkpoint=dict(save_best="pc"))
find_unused_parameters = True
