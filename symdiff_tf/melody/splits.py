"""Which split a MIDI file belongs to, by a rule named in configs and on the command line.

- "pop909": POP909's song number N from the file name (`001.mid` ... `909.mid`): N % 10 == 0 test,
  N % 10 == 5 validation, else train (the split this project uses everywhere, ../shared/data/README.md).
"""
import pathlib

SPLITS = ("train", "validation", "test")


def pop909_split(name) -> str:
    """"train", "validation" or "test" for the POP909 song file `name`; ValueError naming it when its stem is
    not a song number."""
    stem = pathlib.PurePath(str(name)).stem
    if not stem.isdigit():
        raise ValueError(f"{name}: the pop909 split needs a song number as file name (e.g. 005.mid)")
    number = int(stem)
    return "test" if number % 10 == 0 else "validation" if number % 10 == 5 else "train"
