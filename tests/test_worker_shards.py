"""Training input per worker: under MultiWorkerMirroredStrategy (2 local worker processes) each worker reads only its
own TFDS files of a built latent dataset; in one epoch of each worker's stream no window is read twice and none is
lost (the two workers' windows together are the split's windows, each once); the scaler both fit is the scaler of
the whole split; the examples' noise seeds are unique over both workers."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import tensorflow_datasets as tfds

from symdiff_tf.data.latent_config import LatentDataConfig
from symdiff_tf.data.latent_windows import datasets_for_training
from symdiff_tf.paths import REPO_ROOT
from test_training import free_port
from tfds_lakh import lakh_midi_dataset_builder as lakh
from tfds_lakh.lakh_midi_dataset_builder_test import write_tiny_vae

SONGS = [f"{n:03d}" for n in range(1, 13)]
WINDOWS = {"window_chunks": 8, "stride": 4, "allow_rests": True, "z_mode": "mu"}  # "mu": windows are exact

WORKER = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.tfds_spec import open_builder
    from symdiff_tf.data.worker_shards import ShardedWindows, fit_shared_scaler, worker_position
    from symdiff_tf.models_common.train_config import TrainConfig
    from symdiff_tf.training.loop import distributed_training_data

    spec, windows_config, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    windows = ShardedWindows(open_builder(spec), LatentDataConfig(**windows_config))
    scaler = fit_shared_scaler(windows, strategy)
    worker_id, workers = worker_position(strategy)
    context = tf.distribute.InputContext(workers, worker_id, strategy.num_replicas_in_sync)
    own = [w.tobytes().hex() for w in windows(context).as_numpy_iterator()]

    class Task:  # the training stream's examples as they are: the window and its noise seed
        def prepare_example(self, window, seed):
            return {"window": window, "example": seed[1]}

    config = TrainConfig(batch_size=workers, seed=7)  # one example per worker per step
    data = iter(distributed_training_data(Task(), windows, config, strategy, data_position=0))
    epoch = [{k: strategy.experimental_local_results(v)[0].numpy()[0] for k, v in next(data).items()}
             for _ in range(len(own))]
    json.dump({"worker": worker_id, "scaler": [scaler.minimum, scaler.maximum], "own": own,
               "epoch": [e["window"].tobytes().hex() for e in epoch],
               "examples": [int(e["example"]) for e in epoch]}, open(out, "w"))
""")


@pytest.fixture(scope="module")
def sharded_spec(tmp_path_factory, pop909_dir):
    """A latent dataset (tiny VAE) of 12 POP909 melody tracks, all in train, written as 4 files."""
    root = tmp_path_factory.mktemp("sharded")
    manual = root / "manual"
    manual.mkdir()
    for song in SONGS:
        shutil.copy(pop909_dir / f"{song}.mid", manual / f"{song}.mid")
    config = lakh.make_config(vae=str(write_tiny_vae(root / "vae.keras")), track="MELODY", validation_percent=0)
    builder = tfds.builder("lakh_midi", config=config, data_dir=str(root / "data"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual), num_shards=4))
    assert len([n for n in builder.info.splits["train"].shard_lengths if n]) == 4
    return f"tfds:lakh_midi/{config.name}@{root / 'data'}", builder


def test_each_worker_reads_its_own_files_and_an_epoch_reads_every_window_once(sharded_spec, tmp_path):
    spec, builder = sharded_spec
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, spec, json.dumps(WINDOWS), str(tmp_path / f"{index}.json")],
            env={**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    try:
        errors = [process.communicate(timeout=600)[1] for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, error in zip(processes, errors):
        assert process.returncode == 0, error[-3000:]
    workers = [json.loads((tmp_path / f"{index}.json").read_text()) for index in range(2)]

    # the whole split in one process: its windows and its scaler
    config = LatentDataConfig(**WINDOWS)
    everything, _, scaler = datasets_for_training(builder.as_dataset(split="train"), config,
                                                  mean_sigma_per_dim=builder.info.metadata["mean_sigma_train"])
    all_windows = sorted(w.tobytes().hex() for w in everything.as_numpy_iterator())
    assert len(all_windows) > 50
    for worker in workers:
        assert worker["scaler"] == pytest.approx([scaler.minimum, scaler.maximum], abs=0)
        assert 0 < len(worker["own"]) < len(all_windows)  # its own files only
        assert sorted(worker["epoch"]) == sorted(worker["own"])  # an epoch: each of its windows once
    assert sorted(workers[0]["own"] + workers[1]["own"]) == all_windows  # none lost, none read by both
    examples = workers[0]["examples"] + workers[1]["examples"]
    assert len(set(examples)) == len(examples)  # noise seeds unique over the workers
    assert sorted(w["worker"] for w in workers) == [0, 1]
