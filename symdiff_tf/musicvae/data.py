"""Training data for the MusicVAE: 2-bar token chunks `[n, 32]` int32 (classes 0..89).

Sources (`load_token_chunks`):
- a `.npy` array `[n, 32]`, or a `.npz` holding one such array (key `tokens` or `chunks`, or its only array);
  a chunk archive from `symdiff melodies` (`symdiff_tf.melody.chunk_archive`) gives its non-rest chunks;
- a folder of MIDI files (searched recursively), through the melody layer's
  `symdiff_tf.melody.file_to_melodies(path, track, quantize)`, without the rest chunks; a file that fails is
  skipped and counted by reason;
- `tfds:NAME/CONFIG[@DATA_DIR]` — a built `lakh_midi` config (e.g. `tfds:lakh_midi/tokens@~/tensorflow_datasets`):
  the `tokens` of its train split, without the rest chunks (`tfds_chunks`).

Both melody sources drop rest chunks with one rule (`played_chunks`) and report them as
`skipped["rest chunks"]`.
"""
from __future__ import annotations

import collections
import pathlib

import numpy as np

from symdiff_tf.errors import load_array, load_arrays
from symdiff_tf.melody.chunk_archive import is_chunk_archive
from symdiff_tf.melody.extract import default_quantize
from symdiff_tf.melody.midi_io import MIDI_SUFFIXES
from symdiff_tf.musicvae.configs import NUM_CLASSES, SEQ_LEN
from symdiff_tf.musicvae.model import check_tokens


def load_token_chunks(source, track: str | None = None, quantize: str | None = None, progress: bool = True,
                      split: str = "train", keep_rests: bool = False):
    """Returns (chunks `[n, 32]` int32, skipped: dict reason -> count) from a file, folder or `tfds:` spec.

    For MIDI folders, `quantize` None means `default_quantize(track)` ("beats" with a track, else "paper");
    `split` is the split read from a `tfds:` spec. `keep_rests`: keep the rest chunks of melody sources (for a
    VAE whose latent dataset encodes rests instead of zeroing them; docs/musicvae.md).
    """
    from symdiff_tf.data.tfds_spec import is_tfds_spec

    if is_tfds_spec(source):
        return tfds_chunks(str(source), progress, split, keep_rests)
    path = pathlib.Path(source)
    if path.is_dir():
        return _midi_folder_chunks(path, track, quantize or default_quantize(track), progress, keep_rests)
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder of training chunks")
    what = f"token chunks [n, {SEQ_LEN}] (integer classes 0..{NUM_CLASSES - 1})"
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"{path}: expected a .npy/.npz of {what}, a chunk archive from `symdiff melodies`, or a "
                         "folder of MIDI files")
    arrays = load_arrays(path, what)
    if isinstance(arrays, dict) and is_chunk_archive(arrays):  # from `symdiff melodies`: rests as asked
        chunks, dropped = played_chunks(arrays["tokens"], arrays["rests"], keep_rests)
        if not len(chunks):
            raise ValueError(f"{path}: the archive holds no non-rest 2-bar chunks")
        return check_tokens(chunks, SEQ_LEN, NUM_CLASSES), {REST_CHUNKS: dropped}
    array = load_array(path, what, keys=("tokens", "chunks"))
    try:
        return check_tokens(array, SEQ_LEN, NUM_CLASSES), {}
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


REST_CHUNKS = "rest chunks"  # the key of `skipped` that counts the rest chunks left out


def played_chunks(tokens, rests, keep_rests: bool = False):
    """(chunks `[n_played, 32]` int32, number of rest chunks dropped) of one melody's `tokens` `[n_chunks, 32]`
    with rest flags `rests` `[n_chunks]` (`symdiff_tf.melody.chunks.rest_chunks`).

    Rest chunks are left out for every melody source (docs/musicvae.md says why), unless `keep_rests`.
    """
    tokens = np.asarray(tokens, np.int32).reshape(-1, SEQ_LEN)
    rests = np.asarray(rests, bool)
    if rests.shape != (len(tokens),):
        raise ValueError(f"rest flags of shape {rests.shape} for {len(tokens)} chunks")
    if keep_rests:
        return tokens, 0
    return tokens[~rests], int(rests.sum())


def tfds_chunks(spec: str, progress: bool = True, split: str = "train", keep_rests: bool = False):
    """(chunks `[n, 32]` int32, {"rest chunks": count}) from one split of a built `lakh_midi` config.

    Reads each melody's `tokens` `[n_chunks, 32]` and keeps the chunks whose `rests` flag is False (rest chunks:
    silent, or notes in one bar only; docs/musicvae.md says why they are left out). Any config works, with or
    without latents.
    """
    import tensorflow_datasets as tfds

    from symdiff_tf.data.tfds_spec import open_builder

    builder = open_builder(spec)
    if not {"tokens", "rests"} <= set(builder.info.features.keys()):
        raise ValueError(f"{spec}: expected features `tokens` and `rests` (a lakh_midi config), found "
                         f"{sorted(builder.info.features.keys())}")
    if split not in builder.info.splits:
        raise ValueError(f"{spec}: no {split!r} split (it has {sorted(builder.info.splits)})")
    melodies = builder.as_dataset(split=split, decoders=tfds.decode.PartialDecoding({"tokens": True,
                                                                                      "rests": True}))
    if progress:
        from tqdm import tqdm
        melodies = tqdm(melodies.as_numpy_iterator(), desc="melodies", unit=" melodies")
    else:
        melodies = melodies.as_numpy_iterator()
    chunks, rest_count = [], 0
    for example in melodies:
        played, dropped = played_chunks(example["tokens"], example["rests"], keep_rests)
        chunks.append(played)
        rest_count += dropped
    if not chunks or not sum(len(c) for c in chunks):
        raise ValueError(f"{spec}: the {split} split holds no non-rest 2-bar chunks")
    try:
        return check_tokens(np.concatenate(chunks), SEQ_LEN, NUM_CLASSES), {REST_CHUNKS: rest_count}
    except ValueError as err:
        raise ValueError(f"{spec}: {err}") from err


def _midi_folder_chunks(folder: pathlib.Path, track, quantize, progress, keep_rests=False):
    """(chunks `[n, 32]` int32, skipped) of every melody of every MIDI file under `folder`, without the rest
    chunks (`played_chunks`, counted as `skipped["rest chunks"]`); a file that fails is counted by reason."""
    from symdiff_tf.melody import file_to_melodies

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    if not files:
        raise ValueError(f"{folder}: no MIDI files ({', '.join(MIDI_SUFFIXES)}) found")
    if progress:
        from tqdm import tqdm
        files = tqdm(files, desc="melodies", unit="file")
    chunks, skipped = [], collections.Counter()
    for path in files:
        try:
            melodies = file_to_melodies(path, track=track, quantize=quantize)
        except Exception as err:  # a bad file is skipped and counted, never fatal
            reason = str(err).replace(str(path), "").strip(" :")  # counted by reason, not by file
            skipped[f"{type(err).__name__}: {reason[:80]}"] += 1
            continue
        if not melodies:
            skipped["no melody"] += 1
        for melody in melodies:
            played, dropped = played_chunks(melody.chunks, melody.rests, keep_rests)
            chunks.append(played)
            skipped[REST_CHUNKS] += dropped
    if not sum(len(c) for c in chunks):
        raise ValueError(f"{folder}: no non-rest 2-bar chunks extracted from {len(files)} file(s); skipped: "
                         f"{dict(skipped)}")
    return check_tokens(np.concatenate(chunks)), dict(skipped)


def split_train_eval(chunks: np.ndarray, eval_fraction: float, seed: int):
    """A seeded random split into (train, eval) chunks; eval gets round(n · fraction), at least 1 if > 0."""
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    order = np.random.default_rng(seed).permutation(len(chunks))
    n_eval = max(1, round(len(chunks) * eval_fraction)) if eval_fraction > 0 else 0
    if n_eval >= len(chunks):
        raise ValueError(f"{len(chunks)} chunk(s) are too few for an eval split of {eval_fraction}")
    return chunks[order[n_eval:]], chunks[order[:n_eval]]
