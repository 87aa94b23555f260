"""Listening and looking: the WAV synthesiser and the song piano roll."""
import wave

import matplotlib.image
import numpy as np

from midi_files import conductor_track, melody_track, write_midi
from symdiff_tf.melody.audio import RELEASE_SECONDS, SAMPLE_RATE, synthesize, write_wav
from symdiff_tf.melody.pianoroll import save_song_pianoroll


def test_one_note_is_a_decaying_piano_tone_at_its_pitch(tmp_path):
    # A4 for one second at 120 qpm (two quarters), then nothing
    song = write_midi(tmp_path / "a4.mid", [conductor_track(), melody_track([69], step_ticks=960)])
    samples = synthesize(song)
    assert len(samples) == int((1.0 + RELEASE_SECONDS + 0.5) * SAMPLE_RATE) + 1
    note = samples[:SAMPLE_RATE]
    spectrum = np.abs(np.fft.rfft(note))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(note) - 440.0) < 2.0  # the fundamental
    assert spectrum[int(880 * len(note) / SAMPLE_RATE)] > 0.05 * spectrum.max()  # with partials above it
    early, late = (np.sqrt(np.mean(samples[a:a + 2205] ** 2)) for a in (0, SAMPLE_RATE - 2205))
    assert late < 0.8 * early  # it decays while held
    assert np.abs(samples[int((1.0 + 1.5 * RELEASE_SECONDS) * SAMPLE_RATE):]).max() < 1e-3  # damped after its end


def test_wav_of_a_real_song_follows_its_tempo(pop909_dir, tmp_path):
    path = write_wav(pop909_dir / "032.mid", tmp_path / "song.wav")
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, SAMPLE_RATE)
        seconds = f.getnframes() / SAMPLE_RATE
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    # 242.2 quarters at 59 qpm = 246.3 s, plus the release and half a second
    assert abs(seconds - (242.2 * 60 / 59 + RELEASE_SECONDS + 0.5)) < 0.3
    assert 0.5 * 32767 < np.abs(pcm).max() <= 0.9 * 32767 + 1


def test_song_pianoroll_shades_the_new_bars(pop909_dir, tmp_path):
    span = (11 * 1920, 20 * 1920)  # bars 12-20 of song 032 (4/4, 480 ticks per quarter)
    path = save_song_pianoroll(tmp_path / "roll.png", pop909_dir / "032.mid", "MELODY", [span])
    image = matplotlib.image.imread(path)[..., :3]
    shade = np.all(np.abs(image - np.array([1.0, 0xE0 / 255, 0xB0 / 255])) < 0.02, axis=-1)
    orange = np.all(np.abs(image - np.array([1.0, 0x7F / 255, 0x0E / 255])) < 0.02, axis=-1)
    grey = np.all(np.abs(image - 0.8) < 0.02, axis=-1)
    shaded_columns = np.flatnonzero(shade.any(axis=0))
    orange_columns = np.flatnonzero(orange.any(axis=0))
    assert len(orange_columns) > 20 and len(np.flatnonzero(grey.any(axis=0))) > 200
    assert shaded_columns.min() <= orange_columns.min() and orange_columns.max() <= shaded_columns.max() + 1
    # the shaded span is 9 of the song's 61 bars wide
    width = np.flatnonzero((image < 0.5).all(axis=-1).any(axis=0))  # the axes' frame, left to right
    assert abs((np.ptp(shaded_columns) + 1) / (width.max() - width.min()) - 9 / 61) < 0.02
