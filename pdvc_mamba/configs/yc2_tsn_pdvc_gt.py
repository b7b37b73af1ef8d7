# Paragraph captioning on YouCook2 as the suite trains it (cfgs/yc2_tsn_pdvc_gt.yml, --criteria_for_best_ckpt
# pc): PDVC with the LSTM-DSA captioner on TSN features (3072-d, 200 steps) whose decoder queries are each
# video's ground-truth events, in training and in validation (yc2_val's), without box refinement. Only the
# caption loss trains: matching costs GIoU 4, L1 1e-4, class 0; loss weights caption 2, every other 0. The
# epoch with the best pc = para_METEOR + para_CIDEr + para_Bleu_4 (against para_yc2_val.json) is kept and tested.
_base_ = ["./yc2_tsn_pdvc.py"]
# The *_gt yml sets gt_proposal_sample_num 30, which the loader reads: every event of every video (at most 16).
train_dataloader = dict(dataset=dict(max_events=30))
# 100 queries as in yc2_tsn_pdvc (unused here, kept for the layout); the yml leaves max_eseq_length at 10.
model = dict(transformer_input_type="gt_proposals", max_eseq_length=10,
             matcher=dict(cost_class=0, cost_bbox=1e-4, cost_giou=4),
             loss_weights=dict(ce=0, bbox=0, giou=0, counter=0, caption=2))
# No joint ranking: PDVC ranks only when the counter trains (eval_utils: rerank = count_loss_coef > 0), so
# every proposal is captioned, and a paragraph lists them in the (untrained) class head's score order.
val_evaluator = dict(rerank_alpha=None)
test_evaluator = dict(rerank_alpha=None)
default_hooks = dict(checkpoint=dict(save_best="pc"))
# The learnt queries, their reference points and the box heads get no gradient; DDP has to know.
find_unused_parameters = True
