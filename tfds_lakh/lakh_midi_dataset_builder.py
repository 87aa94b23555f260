"""lakh_midi: monophonic melodies of the Lakh MIDI Dataset (or any MIDI folder) as 2-bar token chunks, and
optionally their MusicVAE posteriors (original.md §1.1–§1.3, stored per melody, not per 64-bar window).

Each example is one melody: `tokens` `[n_chunks, 32]` (classes 0..89 as Magenta's OneHotMelodyConverter),
`rests` `[n_chunks]` (the chunks the original turned into zero latents), `source_file`, `melody_index` and the
melody's offsets in the source; latent configs add `mu` and `sigma` `[n_chunks, z_size]` (zeros for rests, as
the original). Windows (32 or 16 chunks, any stride) are made later by `symdiff_tf.data.latent_windows`, so
changing them needs no rebuild and the data is ~32x smaller than the original's overlapping windows.

Configs (`LakhMidiConfig`) are named after their parameters: `tokens` (paper quantisation, hash split, no VAE),
`tokens-beats`, `tokens-beats-track_MELODY-split_pop909` (POP909's melody track and split), and any latent config
made with `make_config(vae=PATH, ...)` (name `latents_<the VAE's content hash>-...`, so that another VAE never
reuses a dataset, whatever its file is called). A config with `transpose=(low, high)` adds the split
`train_transposed`: every train melody again, transposed as a whole by each semitone shift in low..high that keeps
its notes in range (`symdiff_tf.melody.chunks.shifts_in_range`; shift 0 is `train` itself).

Beam: when `download_config` carries `beam_runner` or `beam_options`, `_generate_examples` returns a Beam
PTransform (files read in parallel, VAE encoding in batches, statistics combined in the pipeline); otherwise
a plain generator does the same in this process. When those options name Beam's DaskRunner, the files are read and
encoded on the Dask cluster instead (`tfds_lakh.dask_build`, which says why Beam does not run there).
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import re

import numpy as np
import tensorflow_datasets as tfds
import tqdm
from etils import epath

from symdiff_tf import melody as melody_lib
from symdiff_tf.data.latent_config import TRANSPOSED_SPLIT
from symdiff_tf.melody.chunks import shifts_in_range, transpose_chunks
from symdiff_tf.melody.extract import QUANTIZE_MODES, default_quantize
from symdiff_tf.melody.midi_io import MIDI_SUFFIXES
from symdiff_tf.melody.splits import pop909_split

ARCHIVES = ("lmd_full.tar.gz", "clean_midi.tar.gz", "lmd_matched.tar.gz")
SPLIT_RULES = ("hash", "pop909")
CHUNK_STEPS = 32
MAX_TRANSPOSE = 12  # semitones either way: an octave
_STATS_FILE = "_lakh_midi_stats-{split}.json"

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put MIDI files in the manual folder (`--manual_dir`, default `~/tensorflow_datasets/downloads/manual/`),
in any of these forms (all are searched; identical files are read once):
  * the Lakh MIDI Dataset archives as downloaded from https://colinraffel.com/projects/lmd/ :
    `lmd_full.tar.gz` and/or `clean_midi.tar.gz`, packed (they are extracted once) or unpacked
    (`lmd_full/0/0a0a...mid`, `clean_midi/Artist/Title.mid`);
  * any folder tree of your own `.mid` / `.midi` / `.kar` files, searched recursively. For POP909, put the
    song files (`001.mid` ... `909.mid`) there and use the config `tokens-beats-track_MELODY-split_pop909`.
"""


class ManualDataError(ValueError):
    """The manual folder holds no MIDI files (the message carries MANUAL_DOWNLOAD_INSTRUCTIONS)."""


@dataclasses.dataclass(eq=False)
class LakhMidiConfig(tfds.core.BuilderConfig):
    """One way of turning MIDI into per-melody examples. Build with `make_config` to get the standard name.

    Args:
        quantize: "paper" (split at every tempo/time-signature change, as the original, §1.1) or "beats"
            (quantise on the tempo map's beat grid, issue 8). None: "beats" when a track is named (our own
            training data, e.g. POP909), else "paper" (reproducing the paper on Lakh).
        track: keep only the track with this name (e.g. POP909's "MELODY"); None = every non-drum instrument.
        split: "hash" (by the file content's MD5: `validation_percent`% validation, rest train, as the paper's
            99/1) or "pop909" (song number N from the file name: N%10==0 test, N%10==5 validation, else train).
        validation_percent: share of files in validation for the hash split.
        vae: path of a MusicVAE file for `symdiff_tf.musicvae.load`; None = tokens only. The config's name
            and metadata carry the VAE's content hash (`symdiff_tf.musicvae.identity.vae_content_hash`), never
            its file name: another VAE gives another dataset, the same VAE reuses it wherever its file lies.
        encode_rests: False (the original): rest chunks get all-zero mu and sigma and are not encoded; True:
            they are encoded like any chunk (for a VAE trained with them, `train-vae --keep-rests`).
        encode_batch_size: chunks per VAE call.
        transpose: None, or an inclusive semitone range `(low, high)` with low <= 0 <= high, at most
            `MAX_TRANSPOSE` either way (e.g. (-6, 5): every key): adds the split `train_transposed`, each train
            melody transposed as a whole by every shift in the range but 0 that keeps all its notes in MIDI
            21..108 (no clipping). Validation and test are never transposed; `train` stays as without it.
    """

    quantize: str | None = None
    track: str | None = None
    split: str = "hash"
    validation_percent: int = 1
    vae: str | None = None
    encode_rests: bool = False
    encode_batch_size: int = 256
    transpose: tuple[int, int] | None = None
    vae_hash: str | None = None  # filled from `vae` (the content hash); given, it must match

    def __post_init__(self):
        if self.quantize is None:
            self.quantize = default_quantize(self.track)
        if self.quantize not in QUANTIZE_MODES:
            raise ValueError(f"lakh_midi config: quantize={self.quantize!r}, expected one of {QUANTIZE_MODES}")
        if self.split not in SPLIT_RULES:
            raise ValueError(f"lakh_midi config: split={self.split!r}, expected one of {SPLIT_RULES}")
        if not 0 <= self.validation_percent < 100:
            raise ValueError(f"lakh_midi config: validation_percent={self.validation_percent}, expected 0..99")
        if self.vae is not None:
            self.vae_hash = checked_vae_hash(self.vae, self.vae_hash)
        elif self.encode_rests:
            raise ValueError("lakh_midi config: encode_rests=True needs a vae")
        if self.transpose is not None:
            self.transpose = checked_transpose(self.transpose)
        if self.name in (None, "", "auto"):
            self.name = config_name(self.quantize, self.track, self.split, self.vae_hash, self.validation_percent,
                                    self.encode_rests, self.transpose)
        if self.version is None:
            self.version = "1.0.0"
        if not self.description:
            self.description = (f"melodies quantised in {self.quantize} mode, track={self.track or 'all'}, "
                                f"{self.split} split" + (f", latents of the MusicVAE {self.vae_hash} ({self.vae})"
                                                         if self.vae else ", tokens only"))
            if self.transpose:
                self.description += (f", train also transposed by {self.transpose[0]}..{self.transpose[1]} "
                                     f"semitones ({TRANSPOSED_SPLIT})")

    def record(self) -> dict:
        """The settings that shaped the data, stored in the dataset's metadata."""
        return {"quantize": self.quantize, "track": self.track, "split": self.split,
                "validation_percent": self.validation_percent, "vae": self.vae, "vae_hash": self.vae_hash,
                "encode_rests": self.encode_rests,
                "transpose": None if self.transpose is None else list(self.transpose),
                "storage": "per_melody (no windows: windows are made by symdiff_tf.data.latent_windows)",
                "chunk_steps": CHUNK_STEPS}


def checked_vae_hash(vae, expected=None) -> str:
    """The content hash of the VAE file `vae`; ValueError naming the file when it differs from `expected`."""
    from symdiff_tf.musicvae.identity import vae_content_hash

    found = vae_content_hash(vae)
    if expected and expected != found:
        raise ValueError(f"lakh_midi config: {vae} has content hash {found}, the config says vae_hash={expected}")
    return found


def checked_transpose(transpose) -> tuple[int, int]:
    """`transpose` (a pair of ints, e.g. a JSON list) as `(low, high)` semitones; ValueError naming it unless
    low <= 0 <= high, not both 0, within `MAX_TRANSPOSE`."""
    try:
        low, high = (int(v) for v in transpose)
    except (TypeError, ValueError):
        raise ValueError(f"lakh_midi config: transpose={transpose!r}, expected [low, high] semitones") from None
    if not -MAX_TRANSPOSE <= low <= 0 <= high <= MAX_TRANSPOSE or low == high:
        raise ValueError(f"lakh_midi config: transpose={transpose!r}, expected [low, high] semitones with "
                         f"-{MAX_TRANSPOSE} <= low <= 0 <= high <= {MAX_TRANSPOSE}, not both 0")
    return low, high


def _signed_name(semitones: int) -> str:
    """Semitones for a config name: -6 -> "m6", 5 -> "5"."""
    return f"m{-semitones}" if semitones < 0 else str(semitones)


def config_name(quantize="paper", track=None, split="hash", vae_hash=None, validation_percent=1,
                encode_rests=False, transpose=None) -> str:
    """The config name made from its parameters; the paper's settings without a VAE give `tokens`, a VAE adds
    `latents_<its content hash>`, `transpose=(-6, 5)` the suffix `transposed_m6_5`."""
    parts = ["tokens" if vae_hash is None else "latents_" + vae_hash]
    if quantize != "paper":
        parts.append(quantize)
    if track:
        parts.append("track_" + re.sub(r"[^A-Za-z0-9_]", "_", track))
    if split != "hash":
        parts.append("split_" + split)
    elif validation_percent != 1:
        parts.append(f"val{validation_percent}")
    if encode_rests:
        parts.append("rests_encoded")
    if transpose:
        parts.append(f"transposed_{_signed_name(transpose[0])}_{_signed_name(transpose[1])}")
    return "-".join(parts)


def make_config(quantize=None, track=None, split="hash", vae=None, validation_percent=1,
                encode_batch_size=256, encode_rests=False, transpose=None) -> LakhMidiConfig:
    """A config named after its parameters, e.g. `make_config(vae="vae.keras")` -> `latents_<VAE hash>`.

    quantize None: "beats" when a track is named, else "paper" (see `LakhMidiConfig`)."""
    return LakhMidiConfig(name="auto", quantize=quantize, track=track, split=split, vae=None if vae is None
                          else str(vae), validation_percent=validation_percent,
                          encode_batch_size=encode_batch_size, encode_rests=encode_rests, transpose=transpose)



# --------------------------------------------------------------------------------------------------------------
# Pure per-file work, shared by the in-process generator and the Beam pipeline.

def find_midi_files(manual_dir, dl_manager=None) -> list[tuple[str, str]]:
    """`(name relative to the manual folder, absolute path)` of every MIDI file under `manual_dir`, sorted.

    Lakh archives in the folder are extracted once (with `dl_manager`) and searched as if they were unpacked
    there; an archive beside its own unpacked folder gives duplicates, which the content hash removes later.
    """
    root = epath.Path(manual_dir)
    found = []
    for archive in ARCHIVES:
        if (root / archive).exists():
            if dl_manager is None:
                raise ManualDataError(f"{root / archive}: archives need a download manager to extract them")
            extracted = epath.Path(dl_manager.extract(root / archive))
            found += [(f"{archive}/{p.relative_to(extracted)}", str(p)) for p in _walk_midi(extracted)]
    found += [(str(p.relative_to(root)), str(p)) for p in _walk_midi(root)]
    return sorted(found)


def _walk_midi(root: epath.Path):
    """MIDI files under `root`, recursively (tf.io.gfile, so that gs:// folders work too)."""
    import tensorflow as tf

    for folder, _, names in tf.io.gfile.walk(str(root)):
        for name in names:
            if epath.Path(name).suffix.lower() in MIDI_SUFFIXES:
                yield epath.Path(folder) / name


def content_digest(path) -> str:
    """MD5 of the file's bytes (Lakh's `lmd_full` names files by this digest)."""
    return hashlib.md5(epath.Path(path).read_bytes()).hexdigest()


def assign_split(name: str, digest: str, config: LakhMidiConfig) -> str:
    """Split of one file: by content hash, or POP909's rule on the song number in the file name."""
    if config.split == "pop909":
        return pop909_split(name)
    return "validation" if int(digest, 16) % 100 < config.validation_percent else "train"


def read_melodies(name: str, path: str, config: LakhMidiConfig, transposed: bool = False):
    """One file -> (list of melody dicts, report dict), through `symdiff_tf.melody.file_to_melodies`.

    Never raises for bad input: the report carries the reason. A melody dict has `tokens` `[n, 32]` int32,
    `rests` `[n]` bool and the melody's place in the source (`melody_index`, `track`, `program`, `split_index`,
    `start_step`, `start_seconds`). Melodies without a chunk (drums, under 2 bars) are counted, not stored.
    `transposed`: instead of the melodies, their copies transposed by every shift of `config.transpose`
    (`transposed_copies`); the report counts the copies, and the file once.
    """
    report = {"file": name, "reason": None, "melodies": 0, "chunks": 0, "rest_chunks": 0, "empty_melodies": 0}
    try:
        records = melody_lib.file_to_melodies(path, track=config.track, quantize=config.quantize)
    except Exception as err:  # noqa: BLE001 - one bad file is counted and skipped, nothing else is lost
        report["reason"] = _reason(err)
        report["detail"] = f"{type(err).__name__}: {err}"[:300]
        return [], report
    melodies = []
    for index, record in enumerate(records):
        if record.n_chunks == 0:
            report["empty_melodies"] += 1
            continue
        melodies.append({"tokens": np.asarray(record.chunks, np.int32).reshape(-1, CHUNK_STEPS),
                         "rests": np.asarray(record.rests, bool).reshape(-1), "melody_index": index,
                         "source_file": name, "track": record.track or "", "program": int(record.program),
                         "split_index": int(record.split_index), "start_step": int(record.start_step),
                         "start_seconds": float(record.start_seconds)})
    if not melodies:
        report["reason"] = "no melody of 2 bars or more"
    if transposed:
        melodies = transposed_copies(melodies, config.transpose)
    report["melodies"] = len(melodies)
    report["chunks"] = sum(len(m["rests"]) for m in melodies)
    report["rest_chunks"] = sum(int(m["rests"].sum()) for m in melodies)
    return melodies, report


def transposed_copies(melodies: list[dict], transpose: tuple[int, int]) -> list[dict]:
    """Each melody once per semitone shift of `shifts_in_range(its tokens, *transpose)` (0 excluded, notes kept in
    MIDI 21..108), as a melody dict with its `tokens` transposed as a whole and `shift` (semitones) added."""
    return [dict(m, tokens=transpose_chunks(m["tokens"], shift), shift=shift)
            for m in melodies for shift in shifts_in_range(m["tokens"], *transpose)]


_REASONS = {"MidiReadError": "unreadable MIDI", "PieceTooLongError": "longer than an hour",
            "TrackNotFoundError": "track not found"}


def _reason(err: Exception) -> str:
    """A short category for a skipped file, so that reasons count into few buckets (details are kept apart)."""
    return _REASONS.get(type(err).__name__, "error: " + type(err).__name__)


class ChunkEncoder:
    """Encodes melodies' non-rest chunks with a MusicVAE in batches of `batch_size` chunks.

    The model is loaded on first use (`symdiff_tf.musicvae.load`), so a Beam worker loads it once per process.
    """

    def __init__(self, vae_path: str, batch_size: int = 256, encode_rests: bool = False):
        self.vae_path = vae_path
        self.batch_size = int(batch_size)
        self.encode_rests = bool(encode_rests)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from symdiff_tf import musicvae

            self._model = musicvae.load(self.vae_path)
        return self._model

    def encode_tokens(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`[n, 32]` int tokens -> (mu, sigma) `[n, z_size]` float32, in batches."""
        mus, sigmas = [], []
        for begin in range(0, len(tokens), self.batch_size):
            mu, sigma = self.model.encode(tokens[begin:begin + self.batch_size])
            mus.append(np.asarray(mu, np.float32))
            sigmas.append(np.asarray(sigma, np.float32))
        return np.concatenate(mus), np.concatenate(sigmas)

    def encode_melodies(self, melodies: list[dict]) -> list[dict]:
        """Adds `mu`, `sigma` `[n_chunks, z_size]` to each melody; rest chunks get zeros and are not encoded,
        unless `encode_rests`."""
        def encoded(m):
            return np.ones_like(m["rests"]) if self.encode_rests else ~m["rests"]

        pending = [m for m in melodies if encoded(m).any()]
        if pending:
            mu, sigma = self.encode_tokens(np.concatenate([m["tokens"][encoded(m)] for m in pending]))
        begin = 0
        for m in melodies:
            played = encoded(m)
            count = int(played.sum())
            z_size = self.model.z_size
            m["mu"] = np.zeros((len(played), z_size), np.float32)
            m["sigma"] = np.zeros((len(played), z_size), np.float32)
            if count:
                m["mu"][played] = mu[begin:begin + count]
                m["sigma"][played] = sigma[begin:begin + count]
                begin += count
        return melodies


_EXAMPLE_KEYS = ("tokens", "rests", "source_file", "melody_index", "track", "program", "split_index",
                 "start_step", "start_seconds")


def to_example(m: dict, with_latents: bool):
    """(key, example dict) for TFDS; a fresh dict per example with a stable key: `<source_file>#<melody_index>`,
    and a transposed copy's shift after it (`...#0+3`, `...#0-2`)."""
    example = {key: m[key] for key in _EXAMPLE_KEYS}
    example["n_chunks"] = len(m["rests"])
    if with_latents:
        example["mu"] = m["mu"]
        example["sigma"] = m["sigma"]
    shift = f"{m['shift']:+d}" if "shift" in m else ""
    return f"{m['source_file']}#{m['melody_index']}{shift}", example


def file_examples(files, config: LakhMidiConfig, encoder: ChunkEncoder | None, stats: "SplitStats",
                  transposed: bool = False):
    """(key, example) of every melody in `files` (`(name, path)` pairs), read and encoded in this process;
    `transposed`: of their transposed copies (`read_melodies`).

    Each file's report goes into `stats` (and, with an `encoder`, each melody's sigma sum); melodies are encoded
    once `config.encode_batch_size` chunks are pending.
    """
    pending, pending_chunks = [], 0

    def flush():
        encoded = encoder.encode_melodies(pending) if encoder else pending
        for m in encoded:
            if encoder:
                stats.add_sigma(m)
            yield to_example(m, encoder is not None)

    for name, path in files:
        melodies, report = read_melodies(name, path, config, transposed)
        stats.add_report(report)
        pending.extend(melodies)
        pending_chunks += report["chunks"]
        if not encoder or pending_chunks >= config.encode_batch_size:
            yield from flush()
            pending, pending_chunks = [], 0
    yield from flush()


def sigma_sum(melody: dict):
    """(sum of sigma over the melody's non-rest chunks `[z_size]` float64, their count)."""
    played = ~melody["rests"]
    return melody["sigma"][played].astype(np.float64).sum(axis=0), int(played.sum())


class SplitStats:
    """Counts over one split (files read, melodies, chunks, skipped by reason) and sigma sums per dim."""

    def __init__(self):
        self.files_read = 0
        self.melodies = 0
        self.chunks = 0
        self.rest_chunks = 0
        self.empty_melodies = 0
        self.skipped = collections.Counter()
        self.skipped_files = []  # first few, for the record
        self.sigma_sum = None
        self.sigma_count = 0

    def add_report(self, report: dict):
        if report["reason"] is None:
            self.files_read += 1
            self.melodies += report["melodies"]
            self.chunks += report["chunks"]
            self.rest_chunks += report["rest_chunks"]
            self.empty_melodies += report["empty_melodies"]
        else:
            self.skipped[report["reason"]] += 1
            if len(self.skipped_files) < 100:
                self.skipped_files.append({"file": report["file"], "reason": report["reason"],
                                           "detail": report.get("detail", "")})

    def add_sigma(self, melody: dict):
        self.add_sigma_sum(*sigma_sum(melody))

    def add_sigma_sum(self, total, count: int):
        if count:
            total = np.asarray(total, np.float64)
            self.sigma_sum = total if self.sigma_sum is None else self.sigma_sum + total
            self.sigma_count += int(count)

    def merge(self, other: "SplitStats") -> "SplitStats":
        self.files_read += other.files_read
        self.melodies += other.melodies
        self.chunks += other.chunks
        self.rest_chunks += other.rest_chunks
        self.empty_melodies += other.empty_melodies
        self.skipped.update(other.skipped)
        self.skipped_files = (self.skipped_files + other.skipped_files)[:100]
        self.add_sigma_sum(other.sigma_sum, other.sigma_count)
        return self

    def to_dict(self) -> dict:
        result = {"files_read": self.files_read, "files_skipped": sum(self.skipped.values()),
                  "skipped_by_reason": dict(sorted(self.skipped.items())), "skipped_files": self.skipped_files,
                  "melodies": self.melodies, "chunks": self.chunks, "rest_chunks": self.rest_chunks,
                  "melodies_without_chunks": self.empty_melodies}
        if self.sigma_sum is not None:
            result["mean_sigma"] = (self.sigma_sum / max(self.sigma_count, 1)).astype(np.float32).tolist()
            result["sigma_chunks"] = self.sigma_count
        return result


# --------------------------------------------------------------------------------------------------------------
# Beam pieces (module level so that they pickle to workers).

def _beam_read(item, config, transposed):
    import apache_beam as beam

    name, path = item
    melodies, report = read_melodies(name, path, config, transposed)
    yield beam.pvalue.TaggedOutput("reports", report)
    yield from melodies


class _StatsCombine:
    """Beam CombineFn over reports and encoded melodies (made lazily so Beam stays an optional import)."""

    @staticmethod
    def make():
        import apache_beam as beam

        class Combine(beam.CombineFn):
            def create_accumulator(self):
                return SplitStats()

            def add_input(self, stats, item):
                kind, value = item
                if kind == "report":
                    stats.add_report(value)
                else:
                    stats.add_sigma_sum(*value)
                return stats

            def merge_accumulators(self, accumulators):
                accumulators = iter(accumulators)
                first = next(accumulators)
                for other in accumulators:
                    first.merge(other)
                return first

            def extract_output(self, stats):
                return stats.to_dict()

        return Combine()


def _beam_encode_fn(encoder: ChunkEncoder):
    import apache_beam as beam

    class EncodeBatch(beam.DoFn):
        def setup(self):
            self.encoder = encoder
            self.encoder.model  # noqa: B018 - load the VAE once per worker

        def process(self, melodies):
            yield from self.encoder.encode_melodies(list(melodies))

    return EncodeBatch()


def _write_json(value, path):
    epath.Path(path).write_text(json.dumps(value))


# --------------------------------------------------------------------------------------------------------------

class Builder(tfds.core.GeneratorBasedBuilder):
    """Lakh MIDI melodies as 2-bar token chunks (and MusicVAE posteriors), one example per melody."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Per-melody tokens, rest flags, offsets; optional mu/sigma; paper or beat grid."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
    BUILDER_CONFIGS = [
        make_config(),
        make_config(quantize="beats"),
        make_config(track="MELODY", split="pop909"),  # beats mode, as for any named track
    ]
    DEFAULT_CONFIG_NAME = "tokens"
    _use_beam = False  # set per build by `_download_and_prepare`
    _dask_settings = None

    def _info(self) -> tfds.core.DatasetInfo:
        features = {
            "tokens": tfds.features.Tensor(shape=(None, CHUNK_STEPS), dtype=np.int32,
                                           encoding=tfds.features.Encoding.ZLIB),
            "rests": tfds.features.Tensor(shape=(None,), dtype=np.bool_),
            "source_file": tfds.features.Text(),  # relative to the manual folder (archives: inside them)
            "melody_index": np.int32,  # order of the melody among those extracted from the file
            "track": tfds.features.Text(),  # instrument/track name in the source
            "program": np.int32,
            "split_index": np.int32,  # which tempo/time-signature piece (paper mode); 0 in beats mode
            "start_step": np.int64,  # first bar of the melody, in 16th-note steps of its quantised piece
            "start_seconds": np.float32,  # first bar of the melody, in seconds into the source file
            "n_chunks": np.int32,
        }
        if self.builder_config.vae:
            features["mu"] = tfds.features.Tensor(shape=(None, None), dtype=np.float32,
                                                  encoding=tfds.features.Encoding.ZLIB)
            features["sigma"] = tfds.features.Tensor(shape=(None, None), dtype=np.float32,
                                                     encoding=tfds.features.Encoding.ZLIB)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            metadata=tfds.core.MetadataDict(),
            homepage="https://colinraffel.com/projects/lmd/",
        )

    # ---- orchestration -------------------------------------------------------------------------------------
    def _download_and_prepare(self, dl_manager, download_config):
        from tfds_lakh.dask_build import dask_settings

        self._dask_settings = dask_settings(download_config)  # Beam's DaskRunner named: built with dask itself
        self._use_beam = self._dask_settings is None and bool(download_config.beam_runner or
                                                              download_config.beam_options)
        self._split_stats = {}
        self._run_record = {}
        try:
            super()._download_and_prepare(dl_manager, download_config)
        except AssertionError as err:
            if "No examples were yielded" in str(err):
                raise ManualDataError(
                    "A split got files but no melody: every file of it was skipped. Check the skip reasons "
                    "with a bigger folder, or use a split rule that fits the files.") from err
            raise
        self._collect_beam_stats()
        self.info.metadata.update(self._metadata())

    def _split_generators(self, dl_manager):
        try:
            manual_dir = epath.Path(dl_manager.manual_dir)
        except AssertionError:  # TFDS: the folder is missing or empty
            raise ManualDataError(f"The manual folder {dl_manager._manual_dir} is missing or empty.\n\n"  # noqa: SLF001
                                  f"{MANUAL_DOWNLOAD_INSTRUCTIONS}") from None
        files = find_midi_files(manual_dir, dl_manager)
        if not files:
            raise ManualDataError(f"No MIDI files ({', '.join(MIDI_SUFFIXES)}) found under {manual_dir}.\n\n"
                                  f"{MANUAL_DOWNLOAD_INSTRUCTIONS}") from None
        by_split = collections.defaultdict(list)
        seen = {}
        unassigned = collections.Counter()
        for name, path in tqdm.tqdm(files, desc="lakh_midi: hashing and splitting", unit=" files", leave=False):
            try:
                digest = content_digest(path)
            except OSError as err:
                unassigned["unreadable"] += 1
                self._note_skip(name, "unreadable", str(err))
                continue
            if digest in seen:
                unassigned["duplicate content"] += 1
                continue
            seen[digest] = name
            try:
                split = assign_split(name, digest, self.builder_config)
            except ValueError as err:
                unassigned["no split"] += 1
                self._note_skip(name, "no split", str(err))
                continue
            by_split[split].append((name, path))
        self._run_record.update({"files_found": len(files), "files_not_in_any_split": dict(unassigned),
                                 "files_per_split": {s: len(f) for s, f in sorted(by_split.items())}})
        if not by_split:
            raise ManualDataError(f"None of the {len(files)} MIDI files under {manual_dir} could be assigned "
                                  f"to a split ({dict(unassigned)}).\n\n{MANUAL_DOWNLOAD_INSTRUCTIONS}")
        if self.builder_config.transpose and "train" in by_split:
            by_split[TRANSPOSED_SPLIT] = by_split["train"]  # read again, each melody transposed
        return {split: self._generate_examples(split_files, split) for split, split_files in by_split.items()}

    def _note_skip(self, name, reason, detail):
        noted = self._run_record.setdefault("skipped_before_split", [])
        if len(noted) < 100:  # the first few, for the record; all are counted in files_not_in_any_split
            noted.append({"file": name, "reason": reason, "detail": detail[:300]})

    def _encoder(self):
        config = self.builder_config
        return ChunkEncoder(config.vae, config.encode_batch_size, config.encode_rests) if config.vae else None

    def _generate_examples(self, files, split):
        if self._use_beam:
            return self._beam_examples(files, split)
        return self._generator_examples(files, split)

    # ---- in-process, or on a Dask cluster -------------------------------------------------------------------
    def _generator_examples(self, files, split):
        stats = self._split_stats.setdefault(split, SplitStats())
        transposed = split == TRANSPOSED_SPLIT
        if self._dask_settings is not None:
            from tfds_lakh import dask_build

            return dask_build.dask_examples(files, self.builder_config, stats, self._dask_settings, split,
                                            transposed)
        files = tqdm.tqdm(files, desc=f"lakh_midi {split}", unit=" files", leave=False)
        return file_examples(files, self.builder_config, self._encoder(), stats, transposed)

    # ---- Beam ----------------------------------------------------------------------------------------------
    def _beam_examples(self, files, split):
        import apache_beam as beam

        config = self.builder_config
        encoder = self._encoder()
        stats_path = str(epath.Path(self.data_dir) / _STATS_FILE.format(split=split))

        def expand(pipeline):
            read = (pipeline
                    | "files" >> beam.Create(files)
                    | "spread" >> beam.Reshuffle()
                    | "read" >> beam.FlatMap(_beam_read, config, split == TRANSPOSED_SPLIT).with_outputs(
                        "reports", main="melodies"))
            melodies = read.melodies
            if encoder:
                melodies = (melodies
                            | "batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=max(
                                1, config.encode_batch_size // 16))
                            | "encode" >> beam.ParDo(_beam_encode_fn(encoder)))
                sigma_items = melodies | "sigma items" >> beam.Map(lambda m: ("sigma", sigma_sum(m)))
            report_items = read.reports | "report items" >> beam.Map(lambda r: ("report", r))
            items = (report_items, sigma_items) | beam.Flatten() if encoder else report_items
            (items
             | "stats" >> beam.CombineGlobally(_StatsCombine.make())
             | "write stats" >> beam.Map(_write_json, stats_path))
            return melodies | "examples" >> beam.Map(to_example, encoder is not None)

        return beam.ptransform_fn(expand)()

    def _collect_beam_stats(self):
        for path in epath.Path(self.data_dir).glob(_STATS_FILE.format(split="*")):
            split = path.name[len("_lakh_midi_stats-"):-len(".json")]
            self._split_stats[split] = json.loads(path.read_text())
            path.unlink()

    def _metadata(self) -> dict:
        per_split = {split: stats if isinstance(stats, dict) else stats.to_dict()
                     for split, stats in sorted(self._split_stats.items())}
        metadata = {"config": self.builder_config.record(), "run": self._run_record, "splits": per_split}
        # the totals are over the source files, each once: train_transposed re-reads train's files
        sources = [s for split, s in per_split.items() if split != TRANSPOSED_SPLIT]
        for key in ("files_read", "files_skipped", "melodies", "chunks", "rest_chunks"):
            metadata[key] = sum(s[key] for s in sources)
        skipped = collections.Counter(self._run_record.get("files_not_in_any_split", {}))
        for s in sources:
            skipped.update(s["skipped_by_reason"])
        metadata["skipped_by_reason"] = dict(sorted(skipped.items()))
        train = per_split.get("train", {})
        if "mean_sigma" in train:
            metadata["mean_sigma_train"] = train["mean_sigma"]
            metadata["z_size"] = len(train["mean_sigma"])
        return metadata
