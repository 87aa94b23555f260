"""Reading data for the models: the `tfds:` dataset spec, the `--data` seam (`sources`), the latent input pipeline
(`latent_config`, `melody_latents`, `latent_windows`, `scaler`) and the resumable training stream (`stream`).

Importing this package is cheap; import the submodules for the work. Nothing here imports a model.
"""
