"""From a trained model to music, and from a user's song to an infilling template: the one generation pipeline.

    pipeline = Pipeline(open_run("runs/ddpm"), musicvae.load("vae.keras"))   # `pipeline.Pipeline`
    melodies = pipeline.sample([1, 2, 3], pipeline.options(scheduler="ddim", steps=50))
    window = song_window("song.mid", (17, 48), track="MELODY")              # `song.song_window`
    filled = pipeline.infill(window.tokens, window.keep_bars, [7])

Modules: `codec` (latents ↔ MusicVAE tokens), `tokens` (rests, joins, notes as graph ops), `midi` (MIDI files as
graph ops), `song` (MIDI song → window, no TensorFlow), `pipeline` (model + scheduler + codec). The reverse process
and its schedulers are `symdiff_tf.diffusion`'s; `symdiff_tf.export` writes the same graph into a SavedModel.
Importing this package is cheap.
"""
