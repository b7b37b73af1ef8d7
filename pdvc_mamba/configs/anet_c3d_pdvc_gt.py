# Paragraph captioning as the suite trains it (cfgs/anet_c3d_pdvc_gt.yml, --criteria_for_best_ckpt pc): PDVC
# with the LSTM-DSA captioner on C3D features whose decoder queries are each video's ground-truth events,
# in training and in validation (val_1's), without box refinement. Only the caption loss trains: matching
# costs GIoU 4, L1 1e-5, class 0; loss weights caption 2, every other 0. The epoch with the best
# pc = para_METEOR + para_CIDEr + para_Bleu_4 (against the ActivityNet Entities paragraphs) is kept and tested.
_base_ = ["./anet_c3d_pdvc.py"]
model = dict(transformer_input_type="gt_proposals", matcher=dict(cost_class=0, cost_bbox=1e-5, cost_giou=4),
             loss_weights=dict(ce=0, bbox=0, giou=0, counter=0, caption=2))
# No joint ranking: PDVC ranks only when the counter trains (eval_utils: rerank = count_loss_coef > 0), so
# every proposal is captioned, and a paragraph lists them in the (untrained) class head's score order.
val_evaluator = dict(rerank_alpha=None)
test_evaluator = dict(rerank_alpha=None)
default_hooks = dict(checkpoint=dict(save_best="pc"))
# The learnt queries, their reference points and the box heads get no gradient; DDP has to know.
find_unused_parameters = True
