"""A Lakh-shaped MIDI corpus for scaling measurements: N files in lmd_full's layout, made from real MIDI.

Each output file is one real source file (POP909 and the Lakh sample in `../shared/data` by default), transposed
by a random number of semitones (drums untouched, every note kept inside MIDI's 0..127), its tempo map scaled by a
random factor and the program of each melodic channel replaced by a random one. It is written as
`OUT/lmd_full/<first hex digit>/<MD5 of its bytes>.mid`, the layout of Lakh's `lmd_full` (16 folders named 0-f,
files named by their content hash). Every file differs from every other (a repeat of the same bytes is drawn
again), so a hash split and the builder's duplicate check treat them as N distinct files.

Usage: `python scripts/make_lakh_like.py --num-files 20000 --out /tmp/lakh_like [--seed 0] [--source DIR ...]`.
The output folder must lie outside this repository (the corpus is data, and large).
"""
import argparse
import hashlib
import pathlib
import sys

import mido
import numpy as np
import tqdm

from symdiff_tf.melody.midi_io import MIDI_SUFFIXES
from symdiff_tf.paths import REPO_ROOT, shared_data_dir

DRUM_CHANNEL = 9
MAX_TRANSPOSE = 6  # semitones, either way
TEMPO_FACTORS = (0.8, 1.25)  # the tempo is multiplied by a factor drawn log-uniformly in this range
MAX_DRAWS = 20  # per file: how often a repeat of an earlier file's bytes is drawn again


def source_files(folders) -> list[pathlib.Path]:
    """The MIDI files under `folders`, sorted; SystemExit naming the folders when there is none."""
    found = sorted(p for folder in folders for p in pathlib.Path(folder).rglob("*")
                   if p.suffix.lower() in MIDI_SUFFIXES)
    if not found:
        sys.exit(f"make_lakh_like: no MIDI files under {', '.join(map(str, folders))}")
    return found


def read_sources(paths) -> list[mido.MidiFile]:
    """The readable files among `paths` (MIDI that mido cannot parse is skipped and counted)."""
    readable, skipped = [], 0
    for path in tqdm.tqdm(paths, desc="reading sources", unit=" files", leave=False, disable=None):
        try:
            readable.append(mido.MidiFile(path))
        except (OSError, ValueError, EOFError, KeyError, IndexError):
            skipped += 1
    print(f"{len(readable)} source files read, {skipped} unreadable skipped", flush=True)
    return readable


def _vlq(value: int) -> bytes:
    """MIDI's variable-length quantity (delta times, sysex lengths)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


class SourceTemplate:
    """One source file serialised once, with the offsets of the bytes a variant changes, so that making a variant
    is a copy and three vectorised patches (not a parse and a save)."""

    def __init__(self, midi: mido.MidiFile):
        data = bytearray(b"MThd" + (6).to_bytes(4, "big") + midi.type.to_bytes(2, "big")
                         + len(midi.tracks).to_bytes(2, "big") + midi.ticks_per_beat.to_bytes(2, "big"))
        notes, programs, program_channels, tempos = [], [], [], []
        for track in midi.tracks:
            events = bytearray()
            for message in track:
                events += _vlq(message.time)
                start = len(data) + 8 + len(events)
                if message.type == "sysex":
                    events += bytes([0xF0]) + _vlq(len(message.data) + 1) + bytes(message.data) + bytes([0xF7])
                    continue
                if message.type in ("note_on", "note_off") and message.channel != DRUM_CHANNEL:
                    notes.append(start + 1)
                elif message.type == "program_change" and message.channel != DRUM_CHANNEL:
                    programs.append(start + 1)
                    program_channels.append(message.channel)
                elif message.type == "set_tempo":
                    tempos.append((start + 3, message.tempo))
                events += bytes(message.bytes())
            data += b"MTrk" + len(events).to_bytes(4, "big") + events
        self.data = np.frombuffer(bytes(data), np.uint8)
        self.notes = np.asarray(notes, np.int64)
        self.programs = np.asarray(programs, np.int64)
        self.program_channels = np.asarray(program_channels, np.int64)
        self.tempos = tempos
        pitches = self.data[self.notes]
        self.pitch_range = (int(pitches.min()), int(pitches.max())) if pitches.size else (60, 60)

    def variant(self, rng: np.random.Generator) -> bytes:
        """The file transposed, its tempo map scaled and its melodic programs changed (all drawn from `rng`)."""
        low, high = self.pitch_range
        shift = int(rng.integers(max(-MAX_TRANSPOSE, -low), min(MAX_TRANSPOSE, 127 - high) + 1))
        tempo_factor = float(np.exp(rng.uniform(*np.log(TEMPO_FACTORS))))
        new_programs = rng.integers(0, 128, 16)
        data = self.data.copy()
        data[self.notes] = (data[self.notes].astype(np.int64) + shift).astype(np.uint8)
        data[self.programs] = new_programs[self.program_channels].astype(np.uint8)
        for offset, tempo in self.tempos:
            data[offset:offset + 3] = np.frombuffer(
                min(max(round(tempo / tempo_factor), 1), 0xFFFFFF).to_bytes(3, "big"), np.uint8)
        return data.tobytes()


def make_corpus(sources: list[mido.MidiFile], num_files: int, out: pathlib.Path, seed: int) -> int:
    """Writes `num_files` distinct variants of `sources` (taken in turn) under `out/lmd_full`; returns the count."""
    rng = np.random.default_rng(seed)
    templates = [SourceTemplate(midi) for midi in sources]
    seen = set()
    for index in tqdm.trange(num_files, desc="writing", unit=" files", disable=None):
        source = index % len(templates)
        for _ in range(MAX_DRAWS):
            data = templates[source].variant(rng)
            digest = hashlib.md5(data).hexdigest()
            if digest not in seen:
                break
        else:
            raise RuntimeError(f"make_lakh_like: {MAX_DRAWS} draws of source {source} all repeated earlier files")
        seen.add(digest)
        folder = out / "lmd_full" / digest[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{digest}.mid").write_bytes(data)
    return len(seen)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-files", type=int, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder outside the repository")
    parser.add_argument("--source", type=pathlib.Path, action="append",
                        help="folder of real MIDI (repeatable; default: POP909 and the Lakh sample of ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if out == REPO_ROOT or REPO_ROOT in out.parents:
        parser.error(f"--out {args.out}: write the corpus outside the repository ({REPO_ROOT})")
    if args.num_files < 1:
        parser.error(f"--num-files {args.num_files}: expected at least 1")
    folders = args.source or [shared_data_dir() / "pop909" / "midi", shared_data_dir() / "lakh_clean_mini"]
    written = make_corpus(read_sources(source_files(folders)), args.num_files, out, args.seed)
    print(f"wrote {written} files under {out / 'lmd_full'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
