"""magenta's own melody extraction and 2-bar chunking, as the paper ran it (reference for parity tests).

Usage (always through `magenta_ref.run_magenta_script`, which sets TF_USE_LEGACY_KERAS=1):

    melody_chunks.py --out OUT.npz [--track NAME] [--rests] [--list FILES.txt] [MIDI ...]

Per file, as `magenta/symbolic-music-diffusion` did (../shared/docs/original.md §1.1-1.3):
`note_seq.midi_file_to_note_sequence` -> (optional: keep only the notes of the instruments named NAME) -> skip
if longer than 3600 s -> `split_note_sequence_on_time_changes` -> per split `quantize_note_sequence(4)` -> per
instrument (in `list(set(...))` order) `Melody.from_quantized_sequence(ignore_polyphonic_notes=True,
gap_bars=inf)`, skipping NonIntegerStepsPerBarError -> `melody.to_sequence()` -> `OneHotMelodyConverter(...)
.to_tensors(ns).inputs[::2]` -> argmax class indices. With `--rests`, each chunk also goes through
`from_tensors` and `to_tensors` again; a chunk that yields no tensor is a rest (a zero latent in the original).

Writes OUT.npz with, for file i: `chunks_i` int8 [n_chunks_total, 32], `lengths_i` int64 [n_melodies] (chunks
per melody, in extraction order, 0 for melodies with no chunk), `rests_i` bool [n_chunks_total] (with
`--rests`); plus `files` (paths) and `errors` ('' or the reason a file could not be read). Prints the elapsed
seconds of the whole loop (parse + extraction + conversion) on the last line of stdout.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import note_seq  # noqa: E402
from magenta.models.music_vae import data as music_vae_data  # noqa: E402

MAX_SECONDS = 60 * 60


def paper_converter():
    """`config.melody_2bar_converter` of the original repository."""
    return music_vae_data.OneHotMelodyConverter(
        skip_polyphony=False, max_bars=100, max_tensors_per_notesequence=None, slice_bars=2,
        gap_bars=None, steps_per_quarter=4, dedupe_event_lists=False)


def keep_track(ns, track):
    """A copy of `ns` holding only the notes of the instruments whose name is `track` (timing kept)."""
    instruments = {info.instrument for info in ns.instrument_infos if info.name == track}
    if not instruments:
        raise ValueError(f"no track named {track!r}")
    kept = note_seq.NoteSequence()
    kept.CopyFrom(ns)
    del kept.notes[:]
    kept.notes.extend([n for n in ns.notes if n.instrument in instruments])
    return kept


def extract_melodies(ns):
    """`utils/song_utils.extract_melodies` of the original repository: one melody NoteSequence per split/instrument."""
    melodies = []
    for split_ns in note_seq.sequences_lib.split_note_sequence_on_time_changes(ns):
        qs = note_seq.sequences_lib.quantize_note_sequence(split_ns, steps_per_quarter=4)
        for instrument in list(set([note.instrument for note in qs.notes])):
            melody = note_seq.melodies_lib.Melody()
            try:
                melody.from_quantized_sequence(qs, ignore_polyphonic_notes=True, instrument=instrument,
                                               gap_bars=np.inf)
            except note_seq.NonIntegerStepsPerBarError:
                continue
            melodies.append(melody.to_sequence())
    return melodies


def file_chunks(path, track, converter, with_rests):
    ns = note_seq.midi_file_to_note_sequence(path)
    if track:
        ns = keep_track(ns, track)
    if ns.total_time > MAX_SECONDS:
        return [], []
    per_melody, rests = [], []
    for melody_ns in extract_melodies(ns):
        inputs = converter.to_tensors(melody_ns).inputs[::2]
        per_melody.append(np.array([np.argmax(x, axis=-1) for x in inputs], dtype=np.int8).reshape(-1, 32))
        if with_rests and inputs:
            for chunk_ns in converter.from_tensors(inputs):
                rests.append(len(converter.to_tensors(chunk_ns).inputs) == 0)
    return per_melody, rests


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--list", help="text file with one MIDI path per line")
    parser.add_argument("--out", required=True)
    parser.add_argument("--track", default=None)
    parser.add_argument("--rests", action="store_true")
    args = parser.parse_args(argv)
    files = list(args.files)
    if args.list:
        with open(args.list, encoding="utf-8") as f:
            files += [line.strip() for line in f if line.strip()]
    converter = paper_converter()
    arrays, errors = {}, []
    started = time.perf_counter()
    for i, path in enumerate(files):
        try:
            per_melody, rests = file_chunks(path, args.track, converter, args.rests)
            errors.append("")
        except Exception as e:  # noqa: BLE001 - a reference run records every failure and goes on
            per_melody, rests = [], []
            errors.append(f"{type(e).__name__}: {e}")
        arrays[f"chunks_{i}"] = (np.concatenate(per_melody) if per_melody
                                 else np.zeros((0, 32), np.int8))
        arrays[f"lengths_{i}"] = np.array([len(m) for m in per_melody], dtype=np.int64)
        arrays[f"rests_{i}"] = np.array(rests, dtype=bool)
    elapsed = time.perf_counter() - started
    np.savez(args.out, files=np.array(files), errors=np.array(errors), **arrays)
    print(f"{elapsed:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
