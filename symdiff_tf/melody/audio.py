"""Listening without a synthesiser program: MIDI → WAV with a small additive piano, numpy only.

Each pitch is a sum of 8 slightly stretched partials (a piano string's inharmonicity), the higher ones quieter
and dying away faster, with a 3 ms hammer attack; low notes ring longer than high ones. A note sounds at its
velocity until its end, then the damper stops it in about 0.1 s. Drum notes (channel 10) are short noise
bursts. Every instrument is played with this one piano (programs are ignored) and the sustain pedal is not
applied. Times come from `midi_io.read_midi`, so the file's tempo map is honoured.

Units: seconds, samples at `SAMPLE_RATE` per second; WAV files are 16-bit mono PCM.
"""
from __future__ import annotations

import os
import wave

import numpy as np

from symdiff_tf.melody.midi_io import read_midi

SAMPLE_RATE = 22050
PARTIALS = 8
ATTACK_SECONDS = 0.003
RELEASE_SECONDS = 0.1  # time for the damper to bring a note down by about 60 dB (≈ 7 time constants)
LONGEST_RING_SECONDS = 6.0  # a held note's tone is rendered this long at most
DRUM_SECONDS = 0.15


def piano_tone(pitch: int, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 `[round(seconds · sample_rate)]`: the undamped tone of MIDI `pitch` at full velocity, peak ≈ 1."""
    t = np.arange(int(round(seconds * sample_rate)), dtype=np.float64) / sample_rate
    frequency = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    stiffness = 2e-4 * 2.0 ** ((pitch - 60) / 24.0)  # inharmonicity grows towards the treble
    decay = 0.5 + 0.035 * (pitch - 21)  # 1/s: low notes ring longer
    tone = np.zeros_like(t)
    for k in range(1, PARTIALS + 1):
        partial = k * frequency * np.sqrt(1.0 + stiffness * k * k)
        if partial >= sample_rate / 2:
            break
        tone += k ** -1.4 * np.exp(-decay * (1.0 + 0.6 * (k - 1)) * t) * np.sin(2 * np.pi * partial * t)
    tone *= np.minimum(t / ATTACK_SECONDS, 1.0)
    return (tone / max(np.abs(tone).max(), 1e-9)).astype(np.float32)


def synthesize(path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 `[n_samples]` in -1..1: the MIDI file at `path` played with the piano of the module docstring,
    0.5 s of silence after the last note's release. Raises `midi_io.MidiReadError` for an unreadable file."""
    score = read_midi(path)
    total = int((score.total_time + RELEASE_SECONDS + 0.5) * sample_rate) + 1
    out = np.zeros(total, np.float32)
    tones = {}
    release = np.exp(-np.arange(int(RELEASE_SECONDS * sample_rate)) / (RELEASE_SECONDS * sample_rate / 7.0))
    noise = np.random.default_rng(0).uniform(-1.0, 1.0, int(DRUM_SECONDS * sample_rate)).astype(np.float32)
    noise *= np.exp(-np.arange(len(noise)) / (0.03 * sample_rate)).astype(np.float32)
    for pitch, velocity, start, end, drum in zip(score.pitch.tolist(), score.velocity.tolist(),
                                                 score.start.tolist(), score.end.tolist(), score.is_drum.tolist()):
        begin = int(start * sample_rate)
        gain = 0.25 * (velocity / 127.0) ** 1.5
        if drum:
            sound = noise[:total - begin]
        else:
            if pitch not in tones:
                tones[pitch] = piano_tone(pitch, LONGEST_RING_SECONDS, sample_rate)
            held = min(int((end - start) * sample_rate), len(tones[pitch]))
            length = min(held + len(release), len(tones[pitch]), total - begin)
            envelope = np.ones(length, np.float32)
            envelope[held:] = release[:max(length - held, 0)]
            sound = tones[pitch][:length] * envelope
        out[begin:begin + len(sound)] += gain * sound
    peak = np.abs(out).max(initial=0.0)
    return out / peak * 0.9 if peak > 0.9 else out


def write_wav(midi_path, wav_path, sample_rate: int = SAMPLE_RATE):
    """Writes the MIDI file `midi_path` played by `synthesize` to `wav_path` (16-bit mono PCM); returns it."""
    samples = np.round(synthesize(midi_path, sample_rate) * 32767).astype("<i2")
    with wave.open(os.fspath(wav_path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(samples.tobytes())
    return wav_path
