"""From a trained model to music, and from a user's song to an infilling template: the one generation path.

    generator = Generator.from_files("vae.keras", "runs/ddpm")    # `generator.Generator`
    melodies = generator.sample([1, 2, 3], steps=50)              # one melody per seed; 50 < N: DDIM
    melodies.write("out", ["a", "b", "c"])                        # a.mid, a.png, …, pianorolls.png
    window = song_window("song.mid", (17, 48), track="MELODY")   # `song.song_window`
    filled = generator.infill(window.tokens, window.keep_bars, [7])

Modules: `run` (opening a run directory), `noise` (one seed per melody), `sampler` (DDPM/DDIM with the step
count as a tensor), `codec` (latents ↔ MusicVAE tokens), `tokens` (rests, joins, notes as graph ops), `midi`
(MIDI files as graph ops), `song` (MIDI song → window, no TensorFlow), `generator` (the path itself).
`symdiff_tf.export` writes the same graph into a SavedModel. Importing this package is cheap.
"""
