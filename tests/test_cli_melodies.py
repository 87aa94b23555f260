"""`symdiff melodies` over a folder of good and bad files."""
import json

import pytest

from midi_files import drums_only, good_song, out_of_range, tempo_map_song, waltz
from symdiff_tf.cli import main


@pytest.fixture
def mixed_folder(tmp_path, pop909_dir):
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True)
    real = (pop909_dir / "001.mid").read_bytes()
    (folder / "truncated.mid").write_bytes(real[: len(real) // 3])
    (folder / "empty.mid").write_bytes(b"")
    (folder / "text.mid").write_text("this is not MIDI\n")
    (folder / "notes.txt").write_text("ignored: not .mid")
    drums_only(folder / "drums.mid")
    out_of_range(folder / "nested" / "low.MIDI")
    good_song(folder / "good.mid")
    waltz(folder / "nested" / "waltz.mid")
    tempo_map_song(folder / "tempi.midi", n_changes=300)
    return folder


BAD = {"truncated.mid": "truncated", "empty.mid": "empty", "text.mid": "not a MIDI file",
       "drums.mid": "no melody", "low.MIDI": "no melody"}


@pytest.mark.parametrize("quantize", ["paper", "beats"])
def test_folder_with_bad_files(tmp_path, mixed_folder, quantize):
    out = tmp_path / "out"
    assert main(["melodies", str(mixed_folder), "--out", str(out), "--quantize", quantize,
                 "--window-length", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    reasons = {entry["file"].split("/")[-1]: entry["reason"] for entry in summary["skipped"]}
    bad = dict(BAD)
    if quantize == "paper":  # split at each of the 300 tempo changes: no piece is 2 bars long (issue 8)
        bad["tempi.midi"] = "no melody"
    assert set(reasons) == set(bad)
    for name, cause in bad.items():
        assert cause in reasons[name]
    assert summary["files_read"] == 5  # good, waltz, tempi + drums and low (read, but without a melody)
    written = sorted(p.name for p in out.glob("*.mid"))
    expected = ["good.0.mid", "waltz.0.mid"] if quantize == "paper" else ["good.0.mid", "tempi.0.mid", "waltz.0.mid"]
    assert written == expected
    assert sorted(p.name for p in out.glob("*.png")) == [n.replace(".mid", ".png") for n in written]
    assert summary["melodies"] == len(expected)
    # good: 8 bars = 4 chunks; waltz: 64 eighths regridded as 4/4 = 4 chunks
    assert summary["chunks"] >= 8
    assert set(summary["windows_by_length"]) == {"2", "16", "32"}
    assert summary["windows"] == summary["windows_by_length"]["2"] > 0
    assert summary["settings"]["quantize"] == quantize


def test_tempo_map_song_stays_one_melody_in_beats_mode(tmp_path, mixed_folder):
    out = tmp_path / "out"
    assert main(["melodies", str(mixed_folder / "tempi.midi"), str(mixed_folder / "good.mid"), "--out", str(out),
                 "--quantize", "beats", "--allow-rests"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["melodies"] == 2 and summary["chunks"] == 8  # 4 chunks each, tempo changes or not
    assert summary["windows"] == 0 and summary["windows_by_length"]["16"] == 0


def test_track_option_and_real_file(tmp_path, pop909_dir):
    out = tmp_path / "out"
    assert main(["melodies", str(pop909_dir / "001.mid"), "--track", "MELODY", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["quantize"] == "beats" and summary["melodies"] == 1
    assert summary["chunks"] == 32 and not summary["skipped"]


def test_karaoke_files_in_folders_are_read(tmp_path):
    (tmp_path / "in").mkdir()
    good_song(tmp_path / "in" / "song.KAR")  # .kar: a Standard MIDI File with lyrics
    out = tmp_path / "out"
    assert main(["melodies", str(tmp_path / "in"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files_read"] == 1 and summary["melodies"] == 1 and summary["chunks"] == 4
    assert summary["settings"]["quantize"] == "paper"  # no --track: the paper's quantisation


def test_nothing_readable_exits_non_zero(tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    out = tmp_path / "out"
    assert main(["melodies", str(tmp_path / "empty.mid"), str(tmp_path / "missing"), "--out", str(out)]) != 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files_read"] == 0 and len(summary["skipped"]) == 2
