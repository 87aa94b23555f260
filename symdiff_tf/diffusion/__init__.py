"""The diffusion model over sequences of MusicVAE latents (`original.md` §2): schedule, TransformerDDPM, the
training loss (Algorithm 2) and compiled samplers (DDPM, DDIM, infilling).

Importing this package is cheap; import the submodules (`model`, `schedule`, `samplers`, `inference`, `task`) for
the work.
"""
