"""The melody layer: MIDI file -> monophonic melodies -> 2-bar chunks of 32 class indices -> windows of chunks.

No TensorFlow here. Main entry points:
- `file_to_chunks(path, track=None, quantize="paper")`: one int array [n_chunks, 32] (classes 0..89) per melody,
  identical to magenta's pipeline in the paper's setup.
- `file_to_melodies(...)`: the same melodies as `MelodyRecord`s (events, source, track, split, start offset,
  chunks, rest flags).
- `windows.window_starts` / `windows.stack_windows`: windows of L chunks for training data.
"""
from symdiff_tf.melody.records import MelodyRecord, file_to_chunks, file_to_melodies

__all__ = ["MelodyRecord", "file_to_chunks", "file_to_melodies"]
