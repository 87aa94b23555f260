"""TransformerMDN, the paper's autoregressive baseline (§4.2; `original.md` §3): the diffusion trunk with a
causal mask and a mixture-of-Gaussians head built with `tfp.distributions`.

Importing this package is cheap; import the submodules for the work: `config` (the `mdn:` section), `model`
(the Keras model and its likelihood), `sampling` (the compiled ancestral sampler), `inference` (loading a trained
run for sampling), `task` (the trainer seam).
"""
