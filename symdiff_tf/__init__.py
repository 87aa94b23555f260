"""symdiff_tf: long melodies from a diffusion model over 2-bar MusicVAE latents (Mittal et al., ISMIR 2021).

Importing the package is cheap: TensorFlow is imported only by the modules that need it
(`symdiff_tf.musicvae`, `symdiff_tf.diffusion`, ...), never by `symdiff_tf.melody`.
"""

__version__ = "0.1.0"
