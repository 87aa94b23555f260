"""The listening measures (`symdiff_tf.evaluation.metrics.listening`) of POP909's own melodies on one split, and
optionally of a shipped bundle's infilled and sampled melodies beside them.

Data (the MELODY track, beat quantisation, as the default model's training data):
- unconditional: every 64-bar window (32 chunks, rests kept, stride one chunk: the diffusion model's training
  windows) of every melody of the split;
- infilling: the first 64 bars of each song whose melody reaches 64 bars (`generation.song.song_window`), gap
  bars 17-48; the songs' own bars are the "infilled" piece, so `repetition_f1` is 1 by construction and the other
  values are what a model should match.
With `--bundle DIR`: the first `--songs` of those songs infilled through the bundle's `infill` signature (bars
17-48 regenerated, one seed per song) and `--samples` melodies from its `sample` signature, as `symdiff infill`
and `symdiff sample` make them (the bundle's default scheduler, steps and passes unless `--scheduler`, `--steps`,
`--resample`, `--repeat-start` say otherwise; greedy decoding; `--samples 0`: infilling only). With
`--transpose-seed S` each song is first transposed as a whole by a shift drawn (seeded) from -6..+5 semitones among
those keeping its notes in MIDI 21..108, 0 included: the same songs in keys spread over the octave (the songs' own
measures do not change; a model that leans on the training songs' common keys does).

    python scripts/listening_measures.py [--split validation] [--bundle saved_models/default/4 --songs 12 \
        --samples 64 [--scheduler ddim --steps 50 --resample 1 --repeat-start 0.3]] [--transpose-seed 0] \
        [--out FILE.json]
"""
import argparse
import json
import os
import pathlib

import numpy as np
from tqdm import tqdm

from symdiff_tf.evaluation.metrics.listening import listening_rows, window_notes
from symdiff_tf.generation.song import song_window
from symdiff_tf.melody import file_to_melodies
from symdiff_tf.melody.chunks import shifts_in_range, transpose_chunks
from symdiff_tf.melody.splits import SPLITS, pop909_split
from symdiff_tf.melody.windows import melody_windows

ROOT = pathlib.Path(__file__).resolve().parents[1]
POP909 = pathlib.Path(os.environ.get("SYMDIFF_SHARED_DATA", ROOT.parent / "shared" / "data")) / "pop909" / "midi"
WINDOW_CHUNKS = 32
GAP_BARS = (17, 48)  # one-based, inclusive: `symdiff infill --bars 17-48`
TRANSPOSE_RANGE = (-6, 5)  # semitones: every key once


def split_files(split: str) -> list[pathlib.Path]:
    files = sorted(path for path in POP909.glob("*.mid") if pop909_split(path.name) == split)
    if not files:
        raise SystemExit(f"no POP909 songs of the {split} split in {POP909}")
    return files


def data_pieces(files) -> tuple[list, list, list]:
    """(unconditional windows as note arrays, the 64-bar infilling windows' tokens `[32, 32]`, their notes)."""
    windows, song_tokens, song_notes = [], [], []
    for path in tqdm(files, desc="songs", unit="song"):
        for record in file_to_melodies(path, track="MELODY", quantize="beats"):
            for window in melody_windows(record.chunks, length=WINDOW_CHUNKS, allow_rests=True):
                windows.append(window_notes(window))
        window = song_window(path, GAP_BARS, track="MELODY", quantize="beats", chunks=WINDOW_CHUNKS)
        if window.input_bars == 2 * WINDOW_CHUNKS:
            song_tokens.append(window.tokens)
            song_notes.append(window_notes(window.tokens))
    return windows, song_tokens, song_notes


def transposed_songs(song_tokens, seed: int) -> tuple[list, list[int]]:
    """Each song's tokens `[32, 32]` transposed as a whole by a shift drawn from `TRANSPOSE_RANGE` (0 included)
    among those keeping its notes in MIDI 21..108; returns (tokens, the shifts in semitones)."""
    rng = np.random.default_rng(seed)
    shifts = [int(rng.choice([0, *shifts_in_range(tokens, *TRANSPOSE_RANGE)])) for tokens in song_tokens]
    return [transpose_chunks(tokens, shift) for tokens, shift in zip(song_tokens, shifts)], shifts


def bundle_rows(folder, song_tokens, song_notes, num_samples: int, seed: int, scheduler=None, steps=None,
                resample=None, repeat_start=None) -> dict:
    """The bundle's infilled songs (bars 17-48) and unconditional samples, measured; made as `symdiff infill` and
    `symdiff sample` make them (`BundleModel`: the bundle's signatures, None options the bundle's defaults).
    Returns the measures and the options used."""
    from symdiff_tf.cli.commands.generating import BundleModel

    model = BundleModel(folder)
    options = model.options(scheduler, steps, None, 0.0, resample, repeat_start)
    keep_bars = np.ones((len(song_tokens), 2 * WINDOW_CHUNKS), bool)
    keep_bars[:, GAP_BARS[0] - 1:GAP_BARS[1]] = False
    song_seeds = np.arange(seed, seed + len(song_tokens), dtype=np.int32)
    infilled = model.infill(np.stack(song_tokens), keep_bars, song_seeds, options)
    rows = {"options": options.describe(infilling=True),
            "infilling": listening_rows([window_notes(t) for t in infilled.joined], songs=song_notes)}
    if num_samples:
        sampled = model.sample(np.arange(seed, seed + num_samples, dtype=np.int32), options)
        rows["unconditional"] = listening_rows([window_notes(t) for t in sampled.joined])
    return rows


def main() -> int:
    from symdiff_tf.cli.terminal import quiet_stderr

    quiet_stderr()  # TensorFlow's start-up noise off the terminal (before TensorFlow is imported)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=SPLITS, default="validation")
    parser.add_argument("--bundle", default=None, help="a SavedModel bundle to measure beside the data")
    parser.add_argument("--songs", type=int, default=12, help="songs infilled by the bundle (the first ones)")
    parser.add_argument("--samples", type=int, default=64,
                        help="unconditional melodies sampled by the bundle (0: infilling only)")
    parser.add_argument("--scheduler", default=None, help="the bundle's scheduler (default: its own)")
    parser.add_argument("--steps", type=int, default=None, help="diffusion steps (default: the scheduler's)")
    parser.add_argument("--resample", type=int, default=None,
                        help="passes per infilling step (default: the bundle's, as `symdiff infill`)")
    parser.add_argument("--repeat-start", type=float, default=None,
                        help="where infilling starts the gap (default: the bundle's, as `symdiff infill`)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--transpose-seed", type=int, default=None,
                        help="infill the songs transposed by a seeded shift each (-6..+5 semitones)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    windows, song_tokens, song_notes = data_pieces(split_files(args.split))
    result = {"split": args.split, "data": {
        "unconditional": listening_rows(windows),
        "infilling": listening_rows(song_notes, songs=song_notes)}}
    if args.transpose_seed is not None:
        song_tokens, result["transposed_by"] = transposed_songs(song_tokens, args.transpose_seed)
        song_notes = [window_notes(tokens) for tokens in song_tokens]
    if args.bundle:
        chosen = slice(0, args.songs)
        result["data"]["infilling_songs_measured"] = listening_rows(song_notes[chosen], songs=song_notes[chosen])
        result["bundle"] = {"folder": args.bundle, "seed": args.seed,
                            **bundle_rows(args.bundle, song_tokens[chosen], song_notes[chosen], args.samples,
                                          args.seed, args.scheduler, args.steps, args.resample,
                                          args.repeat_start)}
    print(json.dumps(result, indent=2))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
