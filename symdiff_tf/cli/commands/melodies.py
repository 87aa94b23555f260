"""`symdiff melodies INPUT... --out DIR`: extract melodies from MIDI files and folders, write each melody's MIDI
and piano roll, and a JSON summary.

Output:
- `DIR/<file>.<k>.mid` and `.png` for every melody with at least one 2-bar chunk (rendered at 120 qpm, chunk i at
  exactly 4 s * i; notes held across a chunk boundary carry on, as in the source melody);
- `DIR/chunks.npz` (with `--split pop909`: `DIR/chunks-train.npz`, `-validation`, `-test`): every melody's
  2-bar chunk tokens and rest flags in the format of `symdiff_tf.melody.chunk_archive`, which `train-vae --data`,
  `infill --template` and `evaluate` read;
- `DIR/summary.json`: `files_read`, `melodies`, `chunks`, `windows` (windows of `--window-length` chunks),
  `windows_by_length` (for 16, 32 and `--window-length`), `rest_chunks`, `skipped` (a list of `{"file", "reason"}`
  for every file that could not be read or gave no melody of at least one chunk) and the settings used.
Exit status 0 when at least one file was read; 1 (with one line naming the inputs) when there is no MIDI file or
none could be read.
"""
from __future__ import annotations

import json
import os
import pathlib
import re

REPORTED_WINDOW_LENGTHS = (16, 32)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "melodies", help="extract melodies from MIDI files: MIDI + piano roll per melody, and a JSON summary",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="MIDI files or folders (searched recursively)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--track", default=None, help="keep only the instruments with this track name (POP909: MELODY)")
    parser.add_argument("--quantize", choices=("paper", "beats"), default=None,
                        help="'paper': split at every tempo/time-signature change as the paper did; 'beats': quantise "
                             "on the file's beat grid (default: beats with --track, paper without)")
    parser.add_argument("--window-length", type=int, default=32, help="chunks per window (default 32 = 64 bars)")
    parser.add_argument("--window-stride", type=int, default=1, help="chunks between window starts (default 1)")
    parser.add_argument("--allow-rests", action="store_true", help="count windows that hold rest chunks")
    parser.add_argument("--no-render", action="store_true",
                        help="write only the chunk archive(s) and summary.json, no MIDI or piano roll per melody")
    parser.add_argument("--split", choices=("none", "pop909"), default="none",
                        help="'pop909': write the chunks of POP909's train / validation / test songs (by song "
                             "number) to three files, so that test songs never reach training (default: one file)")
    parser.set_defaults(func=run)


def find_midi_files(inputs) -> tuple[list[pathlib.Path], list[dict]]:
    """MIDI files named by `inputs` (files as given, folders searched recursively for .mid/.midi/.kar, sorted),
    and `{"file", "reason"}` entries for inputs that do not exist."""
    from symdiff_tf.melody.midi_io import MIDI_SUFFIXES

    files, missing = [], []
    for name in inputs:
        path = pathlib.Path(name)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            missing.append({"file": str(path), "reason": "no such file or folder"})
    return files, missing


def run(args) -> int:
    from tqdm import tqdm

    from symdiff_tf.melody import file_to_melodies
    from symdiff_tf.melody.chunk_archive import save_chunk_archive
    from symdiff_tf.melody.extract import default_quantize
    from symdiff_tf.melody.pianoroll import save_pianoroll
    from symdiff_tf.melody.render import tokens_to_midi
    from symdiff_tf.melody.splits import pop909_split
    from symdiff_tf.melody.windows import window_starts

    quantize = args.quantize or default_quantize(args.track)
    if args.window_length < 1 or args.window_stride < 1:
        raise ValueError(f"--window-length {args.window_length} / --window-stride {args.window_stride}: both must "
                         "be >= 1")
    lengths = sorted(set(REPORTED_WINDOW_LENGTHS) | {args.window_length})
    files, skipped = find_midi_files(args.inputs)
    if not files:
        missing = "".join(f"; {entry['file']}: {entry['reason']}" for entry in skipped)
        raise ValueError(f"{' '.join(args.inputs)}: no MIDI files found (expected .mid, .midi or .kar files, or "
                         f"folders holding them){missing}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"files_read": 0, "melodies": 0, "chunks": 0, "rest_chunks": 0, "windows": 0,
               "windows_by_length": {str(n): 0 for n in lengths}}
    used_stems = set()
    by_split = {}  # split name -> MelodyRecords
    for path in tqdm(files, desc="melodies", unit="file"):
        try:
            records = file_to_melodies(path, track=args.track, quantize=quantize)
        except ValueError as e:  # MidiReadError, TrackNotFoundError, PieceTooLongError, ... all name the file
            skipped.append({"file": str(path), "reason": str(e)})
            continue
        except Exception as e:  # noqa: BLE001 - one odd file must not end a long run; it is reported
            skipped.append({"file": str(path), "reason": f"unexpected {type(e).__name__} while extracting: {e}"})
            continue
        summary["files_read"] += 1
        records = [r for r in records if r.n_chunks]
        if not records:
            skipped.append({"file": str(path), "reason": "no melody of at least one 2-bar chunk (no usable notes "
                                                         "in MIDI pitches 21..108 outside drums)"})
            continue
        try:
            split = "all" if args.split == "none" else pop909_split(path)
        except ValueError as e:
            skipped.append({"file": str(path), "reason": str(e)})
            continue
        by_split.setdefault(split, []).extend(records)
        stem = _unique_stem(path, used_stems)
        for k, record in enumerate(records):
            summary["melodies"] += 1
            summary["chunks"] += record.n_chunks
            summary["rest_chunks"] += int(record.rests.sum())
            for n in lengths:
                count = len(window_starts(record.n_chunks, n, args.window_stride, record.rests, args.allow_rests))
                summary["windows_by_length"][str(n)] += count
            if args.no_render:
                continue
            name = f"{stem}.{k}"
            tokens_to_midi(record.chunks, out / f"{name}.mid", continuous=True)
            label = record.track or f"instrument {record.instrument}"
            save_pianoroll(out / f"{name}.png", record.chunks, rests=record.rests, continuous=True,
                           title=f"{path.name} - {label} - {record.n_chunks} chunks from {record.start_seconds:.1f} s")
    archives = []
    for split, records in sorted(by_split.items()):
        archive = out / ("chunks.npz" if split == "all" else f"chunks-{split}.npz")
        summary.setdefault("chunk_files", {})[archive.name] = save_chunk_archive(archive, records)
        archives.append(archive)
    summary["windows"] = summary["windows_by_length"][str(args.window_length)]
    summary["skipped"] = skipped
    summary["settings"] = {"quantize": quantize, "track": args.track, "window_length": args.window_length,
                           "window_stride": args.window_stride, "allow_rests": args.allow_rests,
                           "split": args.split}
    with open(out / "summary.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(f"{summary['files_read']} files read, {summary['melodies']} melodies, {summary['chunks']} chunks, "
          f"{summary['windows']} windows of {args.window_length} chunks, {len(skipped)} skipped")
    print(f"wrote {out}/: " + ("" if args.no_render else "a MIDI file and a piano roll per melody, ") + "summary.json, "
          + ", ".join(a.name for a in archives))
    if not summary["files_read"]:
        first = skipped[0]
        raise ValueError(f"{' '.join(args.inputs)}: none of the {len(files)} MIDI files could be read (first: "
                         f"{first['file']}: {first['reason']}); every reason is in {out / 'summary.json'}")
    if archives:
        train = next((a for a in archives if a.name in ("chunks.npz", "chunks-train.npz")), archives[0])
        print(f"next: symdiff train-vae --config configs/default.yaml --data {train} --keep-rests --workdir runs/vae")
    return 0


def _unique_stem(path: pathlib.Path, used: set) -> str:
    """A file-name-safe stem for `path`'s outputs, made unique among the stems already `used`."""
    stem = re.sub(r"[^\w.-]+", "_", path.stem).strip("_") or "melody"
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}_{n}"
    used.add(candidate)
    return candidate
