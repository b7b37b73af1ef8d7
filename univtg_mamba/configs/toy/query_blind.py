# Reference row: the toy UniVTG that never sees the query (every query becomes one all-zero text token). It can
# only find "some event" in the video; the gap to the other rows is what reading the query is worth.
_base_ = ["./univtg.py"]
model = dict(query_blind=True)
