"""Choosing a `tf.distribute` strategy: default (one device), mirrored (all local devices), multi-worker
(`TF_CONFIG`), or TPU. The choice and the replica count are logged.

TensorFlow is imported inside the functions, so `STRATEGIES` can be read by the CLI without loading it."""
import logging

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")
logger = logging.getLogger(__name__)


def split_cpu(num_devices: int) -> None:
    """Splits the CPU into `num_devices` logical devices (to exercise MirroredStrategy without GPUs).

    Must run before TensorFlow initialises its devices (before the first op).
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)


def get_strategy(name: str = "default", tpu_address: str = ""):
    """Returns the strategy called `name` (one of `STRATEGIES`).

    - "default": `tf.distribute.get_strategy()`, one device.
    - "mirrored": `MirroredStrategy` over all local GPUs, or over all logical CPUs when there is no GPU.
    - "multi-worker": `MultiWorkerMirroredStrategy`; the cluster comes from the `TF_CONFIG` environment variable.
    - "tpu": `TPUStrategy` on the TPU at `tpu_address` ("" = the local or Cloud TPU found by the resolver).
    """
    import tensorflow as tf

    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    elif name == "multi-worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    else:
        raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")
    logger.info("tf.distribute strategy: %s (%s) with %d replica(s)", name, type(strategy).__name__,
                strategy.num_replicas_in_sync)
    return strategy


def is_chief(strategy) -> bool:
    """True on the worker that writes checkpoints and summaries (task 0, or the only worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())
