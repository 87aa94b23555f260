"""The SavedModel bundle: `symdiff_tf.export.bundle.export_bundle(vae, run_dir, out_dir)` writes the sampler, the
latent scaler and the MusicVAE encoder and decoder as one SavedModel for TF Serving and other TF tools
(docs/serving.md). Importing this package is cheap."""
