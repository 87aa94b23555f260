"""lakh_midi on a dask.distributed cluster on loopback: a scheduler and 2 worker processes, started and stopped here.

The build named by Beam's DaskRunner options (`tfds_lakh.dask_build`) must give the examples and metadata of the
in-process build, also when a worker is killed while it runs a task of the build.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from symdiff_tf.paths import shared_data_dir
from tfds_lakh import lakh_midi_dataset_builder as lakh
from tfds_lakh.lakh_midi_build_test import assert_same_build, build_lakh_midi
from tfds_lakh.lakh_midi_dataset_builder_test import write_tiny_vae

SONGS = ("001", "002", "003", "004", "005", "010", "011", "015")  # train 5, validation 2, test 1


def _dask_process(tmp_path, name, *args):
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(scheduler address, {worker address: worker process}) of a loopback cluster with 2 single-thread workers
    without nannies (a killed worker stays dead)."""
    from distributed import Client

    root = tmp_path_factory.mktemp("dask")
    scheduler_file = root / "scheduler.json"
    processes = [_dask_process(root, "scheduler", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file))]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = [_dask_process(root, f"worker{i}", "distributed.cli.dask_worker", "--scheduler-file",
                                 str(scheduler_file), "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                 "--name", f"worker{i}") for i in range(2)]
        processes += workers
        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)
            address = client.scheduler.address
        by_pid = {w.pid: w for w in workers}
        yield address, {worker: by_pid[pid] for worker, pid in pids.items()}
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a busy worker that ignores SIGTERM
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def pop909_build(tmp_path_factory):
    """(manual folder of 8 POP909 songs, tiny VAE file, the interface's config, its in-process build)."""
    root = tmp_path_factory.mktemp("pop909")
    pop909_dir = shared_data_dir() / "pop909" / "midi"
    manual = root / "manual"
    manual.mkdir()
    for song in SONGS:
        shutil.copy(pop909_dir / f"{song}.mid", manual / f"{song}.mid")
    vae = write_tiny_vae(root / "tiny_vae.keras")
    config = lakh.make_config(vae=str(vae), track="MELODY", split="pop909", encode_rests=True)
    return manual, vae, config, build_lakh_midi(config, root / "plain", manual)


def test_tfds_build_on_dask_equals_the_in_process_build(cluster, pop909_build, tmp_path):
    """The command line of the interface, with the fully qualified DaskRunner and the cluster's address."""
    import tensorflow_datasets as tfds

    address, _ = cluster
    manual, vae, config, plain = pop909_build
    config_json = f'{{"name": "auto", "vae": "{vae}", "track": "MELODY", "split": "pop909", "encode_rests": true}}'
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "tfds"), "build", "lakh_midi", "--imports",
                    "tfds_lakh", "--manual_dir", str(manual), "--data_dir", str(tmp_path), "--config", config_json,
                    "--beam_pipeline_options=runner=apache_beam.runners.dask.dask_runner.DaskRunner,"
                    f"dask_client_address={address},dask_partition_size=2"], check=True, capture_output=True)
    on_dask = tfds.builder_from_directory(str(tmp_path / "lakh_midi" / config.name / "1.0.0"))
    assert {s: on_dask.info.splits[s].num_examples for s in on_dask.info.splits} == \
        {s: plain.info.splits[s].num_examples for s in plain.info.splits}
    assert_same_build(plain, on_dask)


def _kill_when_busy(address, worker, process, outcome):
    """Kills `worker` (SIGKILL) as soon as the scheduler says it is running a task; records what it ran."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = client.processing(workers=[worker]).get(worker, ())
            if running:
                process.send_signal(signal.SIGKILL)
                outcome["killed_while_running"] = list(running)
                return
            time.sleep(0.01)


def test_a_worker_killed_mid_build_changes_nothing(cluster, pop909_build, tmp_path):
    from distributed import Client

    address, workers = cluster
    victim, process = next(iter(workers.items()))
    manual, _, config, plain = pop909_build
    outcome = {}
    killer = threading.Thread(target=_kill_when_busy, args=(address, victim, process, outcome))
    killer.start()
    # the short name: Beam's own pipeline refuses it, this builder takes it
    options = PipelineOptions(["--runner=DaskRunner", f"--dask_client_address={address}", "--dask_partition_size=1"])
    on_dask = build_lakh_midi(config, tmp_path, manual, beam_options=options)
    killer.join()
    assert outcome.get("killed_while_running"), "the worker was not killed during the build"
    assert process.wait(timeout=30) == -signal.SIGKILL
    with Client(address, timeout=30) as client:
        assert victim not in client.scheduler_info(n_workers=-1)["workers"]  # lost, not restarted
    assert_same_build(plain, on_dask)
