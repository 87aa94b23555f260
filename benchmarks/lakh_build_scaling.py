"""What a `lakh_midi` latent build costs on a Dask cluster of 1, 2, ... workers (docs/scaling.md).

    .venv/bin/python benchmarks/lakh_build_scaling.py --corpus /tmp/lakh_like_20k/lmd_full/0 \
        [--vae FILE.keras | --vae-config configs/default.yaml] [--workers 1 2] [--files-per-task 8] \
        [--out /tmp/lakh_scaling.json]

For each worker count: a local Dask cluster of that many single-thread worker processes, the build of the
Lakh config (paper quantisation, every melodic instrument, hash split) with a VAE through the DaskRunner options
(`tfds_lakh.dask_build`), timed from the first task to the last example written. Reported: files and chunks per
second of wall time, the CPU seconds of each worker and of the launcher (and files per worker CPU second, which
other load on the machine does not change), the peak resident memory of each process (sampled every 0.2 s), and
the written shards (count, bytes, examples). A randomly initialised VAE of `--vae-config` costs what a trained one of
that size costs. Corpora come from `scripts/make_lakh_like.py` (outside the repository); the data folder is a
temporary one. The machine is shared and noisy: compare worker counts side by side in one run.
"""
import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

SAMPLE_EVERY_S = 0.2


def cpu_name() -> str:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    return platform.processor()


class PeakMemory:
    """Samples the resident memory of the given processes in a thread; `peaks` in MiB per process name."""

    def __init__(self, processes: dict):
        self.processes = processes
        self.peaks = dict.fromkeys(processes, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(SAMPLE_EVERY_S):
            for name, process in self.processes.items():
                try:
                    self.peaks[name] = max(self.peaks[name], process.memory_info().rss / 2 ** 20)
                except Exception:  # noqa: BLE001 - a process that ended keeps its last peak
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def measure(corpus: pathlib.Path, vae: str, workers: int, files_per_task: int) -> dict:
    """One build of `corpus` with `vae` on a local cluster of `workers` processes."""
    import psutil
    import tensorflow_datasets as tfds
    from apache_beam.options.pipeline_options import PipelineOptions
    from distributed import Client, LocalCluster

    from tfds_lakh.lakh_midi_dataset_builder import make_config

    config = make_config(vae=vae)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, tempfile.TemporaryDirectory(prefix="lakh_scaling_") as data_dir:
        pids = client.run(os.getpid)
        processes = {f"worker {i}": psutil.Process(pid) for i, pid in enumerate(pids.values())}
        options = PipelineOptions(["--runner=DaskRunner", f"--dask_client_address={cluster.scheduler_address}",
                                   f"--dask_partition_size={files_per_task}"])
        builder = tfds.builder("lakh_midi", config=config, data_dir=data_dir)
        launcher = psutil.Process()
        everyone = {**processes, "launcher": launcher}
        cpu_before = {name: sum(process.cpu_times()[:2]) for name, process in everyone.items()}
        with PeakMemory(everyone) as memory:
            start = time.perf_counter()
            builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
                manual_dir=str(corpus), beam_options=options))
            seconds = time.perf_counter() - start
        cpu_s = {name: round(sum(process.cpu_times()[:2]) - cpu_before[name], 1) for name, process in everyone.items()}
        meta = builder.info.metadata
        shards = sorted(pathlib.Path(builder.data_dir).glob("*.tfrecord*"))
        splits = {name: {"examples": split.num_examples, "shards": len(split.shard_lengths),
                         "bytes": int(split.num_bytes)} for name, split in builder.info.splits.items()}
        return {"workers": workers, "files_per_task": files_per_task, "seconds": round(seconds, 1),
                "files_found": meta["run"]["files_found"], "files_read": meta["files_read"],
                "files_skipped": meta["files_skipped"], "melodies": meta["melodies"], "chunks": meta["chunks"],
                "files_per_s": round(meta["run"]["files_found"] / seconds, 2),
                "chunks_per_s": round(meta["chunks"] / seconds, 1),
                "peak_rss_mib": {name: round(peak) for name, peak in memory.peaks.items()},
                "cpu_s": cpu_s, "files_per_worker_cpu_s": round(meta["run"]["files_found"] / sum(
                    v for name, v in cpu_s.items() if name != "launcher"), 2),
                "splits": splits, "shard_bytes": [p.stat().st_size for p in shards]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=pathlib.Path, required=True, help="the manual folder to build")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--vae", help="a MusicVAE .keras file")
    source.add_argument("--vae-config", default="configs/default.yaml",
                        help="build a random VAE of this config (a name or a YAML file)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--files-per-task", type=int, default=8)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        parser.error(f"--corpus {args.corpus}: no such folder")
    with tempfile.TemporaryDirectory(prefix="lakh_scaling_vae_") as vae_dir:
        vae = args.vae
        if vae is None:
            from symdiff_tf import musicvae

            vae = str(pathlib.Path(vae_dir) / "vae.keras")
            musicvae.build_model(args.vae_config).save(vae)
        rows = []
        for workers in args.workers:
            rows.append(measure(args.corpus, vae, workers, args.files_per_task))
            print(json.dumps(rows[-1]), flush=True)
    result = {"cpu": cpu_name(), "corpus": str(args.corpus), "vae": args.vae or f"random {args.vae_config}",
              "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
