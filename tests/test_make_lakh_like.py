"""scripts/make_lakh_like.py: Lakh-shaped variants of real MIDI (layout, transposition, tempo, programs)."""
import hashlib
import io

import mido
import numpy as np
import pytest

import make_lakh_like as lakh_like


@pytest.fixture(scope="module")
def sources(pop909_dir, lakh_dir):
    paths = [pop909_dir / "001.mid", next(p for p in sorted(lakh_dir.rglob("*.mid")))]
    return lakh_like.read_sources(paths)


def _messages(midi):
    return [[m for m in track] for track in midi.tracks]


def test_the_template_serialises_the_source_unchanged(sources):
    for midi in sources:
        again = mido.MidiFile(file=io.BytesIO(lakh_like.SourceTemplate(midi).data.tobytes()))
        assert _messages(again) == _messages(midi)


def test_a_variant_transposes_scales_the_tempo_and_changes_programs(sources):
    midi = sources[1]  # a Lakh file: drums, program changes and a tempo map
    template = lakh_like.SourceTemplate(midi)
    variant = mido.MidiFile(file=io.BytesIO(template.variant(np.random.default_rng(3))))
    shifts, tempo_ratios = set(), set()
    for before, after in zip(_messages(midi), _messages(variant)):
        assert len(before) == len(after)
        for old, new in zip(before, after):
            assert old.type == new.type and old.time == new.time
            if old.type in ("note_on", "note_off"):
                if old.channel == lakh_like.DRUM_CHANNEL:
                    assert new.note == old.note
                else:
                    shifts.add(new.note - old.note)
            elif old.type == "set_tempo":
                tempo_ratios.add(round(old.tempo / new.tempo, 3))
    assert len(shifts) == 1 and abs(shifts.pop()) <= lakh_like.MAX_TRANSPOSE
    assert len(tempo_ratios) == 1 and 0.8 <= tempo_ratios.pop() <= 1.25
    assert any(m.type == "program_change" for track in midi.tracks for m in track)


def test_the_corpus_has_lmd_full_layout_and_distinct_files(sources, tmp_path):
    assert lakh_like.make_corpus(sources, 12, tmp_path, seed=0) == 12
    files = sorted((tmp_path / "lmd_full").glob("*/*.mid"))
    assert len(files) == 12
    for path in files:
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        assert path.name == f"{digest}.mid" and path.parent.name == digest[0]
    with pytest.raises(SystemExit):
        lakh_like.main(["--num-files", "3", "--out", str(lakh_like.REPO_ROOT / "corpus")])
