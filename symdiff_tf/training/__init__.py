"""Training the latent models (`symdiff_tf.diffusion`, `symdiff_tf.mdn`) under `tf.distribute`: the model registry
(`registry`), the optimizer (`adam`), the strategy (`distribute`), the compiled step and its state (`step`), the
resumable loop (`loop`) and the inference artifact it leaves in the run directory (`artifacts`).

Nothing outside `symdiff_tf.cli.commands` imports this package: inference reads a run through
`symdiff_tf.models_common.loading`. Importing this package is cheap; import the submodules for the work.
"""
