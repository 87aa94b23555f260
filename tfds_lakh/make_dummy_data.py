"""Writes `dummy_data/`: a few tiny MIDI files laid out like the unpacked `clean_midi` (Artist/Title.mid).

Run from anywhere: `python tfds_lakh/make_dummy_data.py`. Deterministic; the files total a few KB. What each
file is for (the expected counts in `lakh_midi_dataset_builder_test.py` follow from this):
- `Artist A/Long Song.mid`: one piano melody of 72 bars with bars 3-4 silent (rest chunk 1) and a drum track
  (drums give no melody): enough chunks for 32-chunk windows.
- `Artist A/Two Parts.mid`: a lead and a bass, 8 bars: two melodies from one file.
- `Artist B/Waltz.mid`: a 3/4 piece of 12 bars (re-gridded as 4/4 by the paper mode).
- `Artist B/Drums Only.mid`: only drums: read fine, but no melody (skipped, counted).
- `Artist B/Truncated.mid`: the first 60 bytes of a MIDI file: unreadable (skipped, counted).
- `Artist C/Validation Song.mid`: a short melody whose track name is chosen so that the file's MD5 falls in
  the 1% validation bucket of the hash split, so that both splits are exercised.
"""
import hashlib
import io
import pathlib

import pretty_midi

OUT = pathlib.Path(__file__).resolve().parent / "dummy_data" / "clean_midi"
SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def _midi(tempo=120.0, time_signature=(4, 4)) -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo, resolution=96)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*time_signature, 0.0))
    return pm


def _melody(program, bars, beats_per_bar=4, tempo=120.0, offset=0, silent_bars=(), name=""):
    inst = pretty_midi.Instrument(program=program, name=name)
    beat = 60.0 / tempo
    for bar in range(bars):
        if bar in silent_bars:
            continue
        for b in range(beats_per_bar):
            pitch = SCALE[(bar * beats_per_bar + b) % len(SCALE)] + offset
            start = (bar * beats_per_bar + b) * beat
            inst.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=start, end=start + 0.9 * beat))
    return inst


def _drums(bars, tempo=120.0):
    inst = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    beat = 60.0 / tempo
    for step in range(bars * 4):
        inst.notes.append(pretty_midi.Note(velocity=100, pitch=36 if step % 2 == 0 else 38,
                                           start=step * beat, end=step * beat + 0.1))
    return inst


def _bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def main():
    files = {}
    pm = _midi()
    pm.instruments += [_melody(0, 72, silent_bars=(2, 3), name="piano"), _drums(8)]
    files["Artist A/Long Song.mid"] = _bytes(pm)

    pm = _midi()
    pm.instruments += [_melody(80, 8, name="lead"), _melody(33, 8, offset=-24, name="bass")]
    files["Artist A/Two Parts.mid"] = _bytes(pm)

    pm = _midi(time_signature=(3, 4))
    pm.instruments.append(_melody(0, 12, beats_per_bar=3, name="waltz"))
    files["Artist B/Waltz.mid"] = _bytes(pm)

    pm = _midi()
    pm.instruments.append(_drums(4))
    files["Artist B/Drums Only.mid"] = _bytes(pm)
    files["Artist B/Truncated.mid"] = files["Artist A/Two Parts.mid"][:60]

    for take in range(10000):
        pm = _midi()
        pm.instruments.append(_melody(0, 6, name=f"take {take}"))
        data = _bytes(pm)
        if int(hashlib.md5(data).hexdigest(), 16) % 100 < 1:  # the builder's hash rule (validation_percent=1)
            files["Artist C/Validation Song.mid"] = data
            break
    else:
        raise RuntimeError("no take hashed into the validation bucket")

    for name, data in files.items():
        path = OUT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{len(data):6d} B  {path.relative_to(OUT.parent)}")


if __name__ == "__main__":
    main()
