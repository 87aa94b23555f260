"""Tokens -> NoteSequence / MIDI -> tokens, and the piano roll."""
import numpy as np
import pytest

from symdiff_tf.melody import file_to_chunks
from symdiff_tf.melody.pianoroll import save_pianoroll, save_pianoroll_grid
from symdiff_tf.melody.render import midi_to_tokens, tokens_to_midi, tokens_to_note_sequence


def real_chunks(pop909_dir, lakh_dir):
    files = [pop909_dir / "001.mid", pop909_dir / "010.mid", sorted(lakh_dir.rglob("*.mid"))[0]]
    return [c for path in files for c in file_to_chunks(path) if len(c)]


@pytest.mark.parametrize("continuous", [False, True])
def test_round_trip_is_identity_on_real_chunks(tmp_path, pop909_dir, lakh_dir, continuous):
    melodies = real_chunks(pop909_dir, lakh_dir)
    assert sum(len(c) for c in melodies) > 100
    for k, chunks in enumerate(melodies):
        path = tmp_path / f"{k}.mid"
        tokens_to_midi(chunks, path, continuous=continuous)
        np.testing.assert_array_equal(midi_to_tokens(path, n_chunks=len(chunks), continuous=continuous), chunks)


def test_each_chunk_renders_like_magenta_from_tensors_at_its_2_bar_offset():
    """Per chunk: note_seq.Melody.to_sequence(velocity=80, qpm=120) as magenta's from_tensors, shifted by 4 s * i."""
    note_seq = pytest.importorskip("note_seq")
    rng = np.random.default_rng(0)
    tokens = rng.choice([0, 0, 0, 0, 1, 30, 40, 50], size=(6, 32))
    tokens[2] = 0  # a rest chunk: later chunks must not move (original.md §1.8)
    tokens[3, -1] = 40  # a note held to the chunk end
    sequence = tokens_to_note_sequence(tokens)
    assert sequence.total_time == 24.0 and sequence.tempos[0].qpm == 120.0
    got = sorted((n.start_time, n.end_time, n.pitch, n.velocity) for n in sequence.notes)
    expected = []
    for i, chunk in enumerate(tokens):
        melody = note_seq.Melody(steps_per_bar=16, steps_per_quarter=4)
        for t in chunk:
            melody.append(-2 if t == 0 else -1 if t == 1 else int(t) - 2 + 21)
        for n in melody.to_sequence(velocity=80, qpm=120.0).notes:
            expected.append((n.start_time + 4.0 * i, n.end_time + 4.0 * i, n.pitch, n.velocity))
    assert got == sorted(expected)
    assert any(start == 12.0 + 31 * 0.125 for start, *_ in got)


def test_continuous_carries_a_held_note_across_the_chunk_boundary():
    tokens = np.zeros((2, 32), np.int64)
    tokens[0, 30] = 2 + 60 - 21
    tokens[1, 4] = 1
    assert [(n.start_time, n.end_time) for n in tokens_to_note_sequence(tokens).notes] == [(3.75, 4.0)]
    assert [(n.start_time, n.end_time) for n in tokens_to_note_sequence(tokens, continuous=True).notes] == \
        [(3.75, 4.5)]


@pytest.mark.parametrize("bad", [np.zeros((2, 16)), np.zeros(32), np.full((1, 32), 90), np.full((1, 32), -1)])
def test_bad_tokens_raise(bad):
    with pytest.raises(ValueError):
        tokens_to_note_sequence(bad)


def test_pianoroll_one_and_grid(tmp_path, pop909_dir):
    chunks = file_to_chunks(pop909_dir / "001.mid", track="MELODY", quantize="beats")[0]
    rests = np.zeros(len(chunks), bool)
    rests[2] = True
    one = save_pianoroll(tmp_path / "one.png", chunks, rests=rests, title="001")
    grid = save_pianoroll_grid(tmp_path / "grid.png", [chunks[:4], chunks[4:8], chunks[:1]], titles=["a", "b", "c"],
                               title="three")
    for path in (one, grid):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
