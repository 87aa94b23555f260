"""lakh_midi on a `dask.distributed` cluster: what `tfds build` does when its Beam options name Beam's DaskRunner.

`--beam_pipeline_options="runner=apache_beam.runners.dask.dask_runner.DaskRunner,dask_client_address=tcp://HOST:PORT"`
(the short name `runner=DaskRunner` too) sends the per-file work, i.e. reading MIDI, extracting melodies and
encoding their chunks with the VAE, to the Dask cluster in tasks of `dask_partition_size` files (default 8); the
launching process writes the returned examples with TFDS's own writer, as the in-process build does, and merges
the per-task statistics in file order. The examples and the metadata are those of the in-process build.

Why not Beam's DaskRunner itself (apache-beam 2.77.0, read and run here): it computes only the last leaf of the
pipeline graph (`DaskRunner.run_pipeline` computes `list(bags.values())[-1]`), so every other branch silently never
runs: TFDS writes one branch per split and this builder adds one for its statistics; it puts all tagged outputs of
a ParDo into one collection (our reader's `with_outputs("reports", ...)` then handed report dicts to the VAE
encoder: `KeyError: 'rests'`); it turns `Reshuffle` into a no-op and computes every side input again inside each
task that reads it.

A lost worker: Dask's scheduler runs the tasks it held (running or finished but not yet collected) again on
another worker; a task is a pure function of its files, the config and the VAE file, so the result is the same.
Workers need this package installed, and the MIDI files and the VAE file at the same paths as the launcher.
"""
from __future__ import annotations

import dataclasses

import tqdm

DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
DEFAULT_FILES_PER_TASK = 8
TASKS_IN_FLIGHT_PER_WORKER = 4  # bounds the finished results waiting on workers to be collected

_WORKER_ENCODERS = {}  # per worker process: (vae, batch size, encode_rests) -> ChunkEncoder, the VAE loaded once


@dataclasses.dataclass
class DaskSettings:
    """Where the cluster is (`address` None: a local cluster in this process) and how many files go in a task."""

    address: str | None
    files_per_task: int = DEFAULT_FILES_PER_TASK
    connect_timeout_s: int | None = None


def dask_settings(download_config) -> DaskSettings | None:
    """The `DaskSettings` of `download_config`'s Beam options when they name the DaskRunner, else None.

    Read from the DaskRunner's own options: `dask_client_address`, `dask_partition_size` (files per task) and
    `dask_connection_timeout` (seconds). ValueError for `dask_npartitions`, which a file list split here cannot
    honour exactly.
    """
    options = download_config.beam_options
    runner = download_config.beam_runner
    if options is None and runner is None:
        return None
    from apache_beam.options.pipeline_options import StandardOptions

    named = runner if runner is not None else options.view_as(StandardOptions).runner
    name = named if isinstance(named, str) else type(named).__module__ + "." + type(named).__name__
    if name not in (DASK_RUNNER, "DaskRunner"):
        return None
    if options is None:
        return DaskSettings(address=None)
    from apache_beam.runners.dask.dask_runner import DaskOptions

    dask_options = options.view_as(DaskOptions)
    if dask_options.npartitions:
        raise ValueError("lakh_midi on Dask: use dask_partition_size (files per task), not dask_npartitions")
    timeout = dask_options.timeout if isinstance(dask_options.timeout, int) else None
    return DaskSettings(dask_options.address, int(dask_options.partition_size or DEFAULT_FILES_PER_TASK), timeout)


def build_task(files, config, transposed=False):
    """One Dask task: `(name, path)` pairs -> (list of (key, example), the files' `SplitStats`); `transposed`:
    the examples of the melodies' transposed copies (`read_melodies`).

    Runs on a worker; the VAE is loaded once per worker process."""
    from tfds_lakh.lakh_midi_dataset_builder import ChunkEncoder, SplitStats, file_examples

    encoder = None
    if config.vae:
        settings = (config.vae, config.encode_batch_size, config.encode_rests)
        if settings not in _WORKER_ENCODERS:
            _WORKER_ENCODERS[settings] = ChunkEncoder(*settings)
        encoder = _WORKER_ENCODERS[settings]
    stats = SplitStats()
    return list(file_examples(files, config, encoder, stats, transposed)), stats


def dask_examples(files, config, stats, settings: DaskSettings, split: str, transposed: bool = False):
    """Yields the (key, example) pairs of `files` built on the Dask cluster of `settings` (`transposed`: of their
    melodies' transposed copies, the split `train_transposed`), and merges the tasks' statistics into `stats` in
    file order once all tasks are done.

    At most `TASKS_IN_FLIGHT_PER_WORKER` tasks per worker are submitted and not yet collected. Examples come in
    the order tasks finish; TFDS orders the written examples by their keys' hashes, so the dataset is the same.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as err:
        raise ImportError("lakh_midi on a Dask cluster needs dask and distributed: pip install -e '.[beam]'") from err

    tasks = [files[begin:begin + settings.files_per_task] for begin in range(0, len(files), settings.files_per_task)]
    task_stats = [None] * len(tasks)
    client_args = {} if settings.connect_timeout_s is None else {"timeout": settings.connect_timeout_s}
    with Client(settings.address, **client_args) as client:
        workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        waiting = iter(enumerate(tasks))
        index_of = {}
        running = as_completed()

        def submit_next():
            for index, task_files in waiting:
                future = client.submit(build_task, task_files, config, transposed, pure=False)
                index_of[future.key] = index
                running.add(future)
                return

        for _ in range(workers * TASKS_IN_FLIGHT_PER_WORKER):
            submit_next()
        with tqdm.tqdm(total=len(files), desc=f"lakh_midi {split} on Dask ({workers} workers)", unit=" files",
                       leave=False) as progress:
            for future in running:
                examples, task_stats[index_of[future.key]] = future.result()
                future.release()
                submit_next()
                progress.update(len(tasks[index_of[future.key]]))
                yield from examples
    for done in task_stats:
        stats.merge(done)
