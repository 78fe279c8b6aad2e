"""The checkpoint of a run, DIR/checkpoint.pkl: everything needed to continue training where it stopped.

A pickle of a dict: format, trainer (the trainer's state, opaque here: each trainer defines its own) and what the
run says about itself (its validated protocol `spec`, the `command` that started it, `generations` done,
`resumed`: one line per resumption). It is written atomically, so a run killed while
writing keeps the previous checkpoint. Like any pickle, load only checkpoints your own runs wrote.
"""
from __future__ import annotations

import pickle
from pathlib import Path

from .atomic import atomic_write

NAME = "checkpoint.pkl"
FORMAT = 1


def write_checkpoint(run_dir, *, trainer, **about) -> Path:
    content = {**about, "trainer": trainer, "format": FORMAT}

    def dump(tmp):
        with open(tmp, "wb") as f:
            pickle.dump(content, f, protocol=pickle.HIGHEST_PROTOCOL)

    return atomic_write(Path(run_dir) / NAME, dump)


def read_checkpoint(run_dir) -> dict:
    """The checkpoint's content; OSError when it cannot be read, ValueError when it is not a checkpoint."""
    with open(Path(run_dir) / NAME, "rb") as f:
        try:
            content = pickle.load(f)
        except Exception as error:  # a truncated or foreign pickle raises anything from EOFError to ImportError
            raise ValueError(f"not a metods_sim checkpoint ({error.__class__.__name__})") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ValueError(f"not a metods_sim checkpoint of format {FORMAT}")
    return content
