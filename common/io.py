"""Reading the JSON files tasks take as input (annotations, predictions), strictly.

Python's json keeps the last of duplicate object keys without a word: a results file listing a video
twice, or an annotation file with a video twice, would lose entries silently. Here it is an error
naming the file and the key.
"""
import json


def load_json(path: str, what: str = "JSON file"):
    """The parsed content of `path`; errors name the file for a missing file, invalid JSON and any
    object with a key given twice."""
    def no_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"{path}: key {key!r} appears twice in one object")
            seen[key] = value
        return seen

    try:
        with open(path) as f:
            return json.load(f, object_pairs_hook=no_duplicates)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
