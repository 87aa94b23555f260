"""Our melody chunks and rest flags equal magenta's, chunk for chunk, on a subset of real and made-up files.

magenta runs in a child process (`scripts/magenta_ref/melody_chunks.py`); `scripts/check_melody_parity.py` runs the
same comparison on all 909 POP909 melody tracks and all 43 Lakh files.
"""
import numpy as np
import pytest

from magenta_ref import run_magenta_script
from symdiff_tf.melody import file_to_melodies
from symdiff_tf.melody.midi_io import MidiReadError
from test_melody_extract import LEAD, phrase, write_midi

LAKH = ["10cc/Dreadlock Holiday.4.mid",  # note-seq cannot read it
        "4 Non Blondes/What's Up.4.mid",  # 7 tempos
        "ABC/4 Ever 2 Gether.mid",  # 3/4 and 4/4
        "AC DC/Back In Black.mid",  # no time signature
        "AC DC/Thunderstruck.mid"]  # 17 tempos
POP909 = ["001", "010", "020", "080", "555"]  # 010: 23 tempos and 3 time signatures


def made_up_files(folder):
    """Small files that hit the corners: drums, shared onsets, out-of-range pitches, 3/4, tempo and meter changes."""
    rng = np.random.default_rng(7)
    dense = [(int(s), int(s + d), int(p)) for s, d, p in
             zip(rng.integers(0, 400, 300), rng.integers(0, 12, 300), rng.integers(10, 120, 300))]
    return [
        write_midi(folder / "band.mid", [("drums", 9, [(s, s + 1, 36) for s in range(0, 64, 4)]), ("lead", 0, LEAD)]),
        write_midi(folder / "range.mid", [("lead", 0, [(0, 4, 110), (20, 24, 60), (36, 44, 62), (40, 44, 15)])]),
        write_midi(folder / "waltz.mid", [("lead", 0, [(14, 18, 60), (26, 30, 62)])], time_signatures=[(0, 3, 4)]),
        write_midi(folder / "rubato.mid", [("MELODY", 0, phrase())],
                   tempos=[(0, 120.0), (9, 93.0), (37, 141.0), (70, 77.5)]),
        write_midi(folder / "dense.mid", [("a", 0, dense[:150]), ("b", 1, dense[150:])],
                   tempos=[(0, 97.0), (101, 133.3)], time_signatures=[(0, 4, 4), (200, 6, 8), (333, 7, 32)]),
    ]


def magenta_chunks(tmp_path, files, track=None):
    """Runs the reference and returns, per file, (chunks per melody, rest flags, error)."""
    listing = tmp_path / f"files_{track}.txt"
    listing.write_text("\n".join(str(f) for f in files) + "\n", encoding="utf-8")
    out = tmp_path / f"magenta_{track}.npz"
    args = ["--list", listing, "--out", out, "--rests"] + (["--track", track] if track else [])
    run_magenta_script("melody_chunks.py", *args)
    ref = np.load(out)
    results = []
    for i in range(len(files)):
        bounds = np.cumsum(ref[f"lengths_{i}"])[:-1]
        results.append((np.split(ref[f"chunks_{i}"], bounds) if len(ref[f"lengths_{i}"]) else [],
                        ref[f"rests_{i}"], str(ref["errors"][i])))
    return results


def assert_same(files, references, track):
    compared = 0
    for path, (ref_chunks, ref_rests, error) in zip(files, references):
        if error:
            with pytest.raises(MidiReadError):
                file_to_melodies(path, track=track)
            continue
        records = file_to_melodies(path, track=track)
        assert [r.n_chunks for r in records] == [len(c) for c in ref_chunks], path
        for record, expected in zip(records, ref_chunks):
            np.testing.assert_array_equal(record.chunks, expected, err_msg=str(path))
        ours_rests = np.concatenate([r.rests for r in records]) if records else np.zeros(0, bool)
        np.testing.assert_array_equal(ours_rests, ref_rests, err_msg=str(path))
        compared += len(ours_rests)
    return compared


@pytest.mark.magenta
def test_lakh_and_made_up_files_match_magenta(tmp_path, lakh_dir):
    files = [lakh_dir / name for name in LAKH] + made_up_files(tmp_path)
    assert assert_same(files, magenta_chunks(tmp_path, files), track=None) > 500


@pytest.mark.magenta
def test_pop909_melody_tracks_match_magenta(tmp_path, pop909_dir):
    files = [pop909_dir / f"{n}.mid" for n in POP909] + [made_up_files(tmp_path)[3]]
    assert assert_same(files, magenta_chunks(tmp_path, files, track="MELODY"), track="MELODY") > 100
