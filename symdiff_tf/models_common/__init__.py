"""What the latent models (`symdiff_tf.diffusion`, `symdiff_tf.mdn`) share: the Keras blocks of their transformer
trunk (`layers`), the constructor-config mixin (`constructor_config`), the `train:` subsection of their config
sections (`train_config`), the dtype policy by name (`precision`), and trained run directories: their layout
and inference artifact (`run_dir`) and loading a network from one without any training code (`loading`).

Importing this package is cheap; import the submodules for the work.
"""
