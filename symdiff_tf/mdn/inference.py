"""Loading a trained TransformerMDN for sampling (`symdiff evaluate`): the network from a run directory
(`symdiff_tf.models_common.loading`), without the training code."""
from symdiff_tf.mdn.config import MDNConfig
from symdiff_tf.mdn.model import TransformerMDN
from symdiff_tf.mdn.sampling import MDNSampler
from symdiff_tf.models_common.loading import NetworkSpec, load_network

MDN_NETWORK = NetworkSpec(section="mdn", config_class=MDNConfig, model_class=TransformerMDN,
                          model_name="transformer_mdn")


def load_mdn(config_file, checkpoint, overrides=(), precision: str = "none"):
    """(trained, sampler): the `TrainedNetwork` of the `mdn:` section in `checkpoint` (a run directory, its
    `checkpoints/` folder, a prefix or an artifact folder; `config_file` None reads the run's own config) and
    its compiled ancestral `MDNSampler`."""
    trained = load_network(MDN_NETWORK, checkpoint, config_file, overrides, precision)
    return trained, MDNSampler(trained.model)
