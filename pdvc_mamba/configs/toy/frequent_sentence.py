# The floor of the toy comparison: the toy PDVC (same localisation, counter and budget) whose captioner always
# emits the training set's most frequent sentence; no caption loss.
_base_ = ["./pdvc.py"]
model = dict(captioner=dict(_delete_=True, type="FrequentSentenceCaptioner",
                            caption_file="data/toy/pdvc_mamba/captiondata/train_modified.json",
                            vocab_file="data/toy/pdvc_mamba/vocabulary_activitynet.json", max_caption_len=12),
             loss_weights=dict(caption=0))
