"""lakh_midi builds: the outside interface, manual-folder forms and errors, metadata, splits, latents, Beam,
transposed train melodies."""
import collections
import json
import pathlib
import shutil
import tarfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_lakh
from symdiff_tf import melody, musicvae
from symdiff_tf.melody.chunks import CLASS_FIRST_PITCH, shifts_in_range, transpose_chunks
from symdiff_tf.musicvae.identity import vae_content_hash
from symdiff_tf.paths import shared_data_dir
from tfds_lakh import lakh_midi_dataset_builder as lakh
from tfds_lakh.lakh_midi_dataset_builder_test import TINY_VAE_CONFIG, write_tiny_vae

DUMMY = pathlib.Path(__file__).parent / "dummy_data"


@pytest.fixture(scope="module")
def pop909_dir():
    path = shared_data_dir() / "pop909" / "midi"
    assert path.is_dir(), f"POP909 not found at {path}; set SYMDIFF_SHARED_DATA"
    return path


def build_lakh_midi(config, data_dir, manual_dir, **download_kwargs):
    """Builds `lakh_midi` (a config name or `LakhMidiConfig`) from MIDI in `manual_dir` into `data_dir`."""
    builder = tfds.builder("lakh_midi", config=config, data_dir=str(data_dir)) if not isinstance(config, str) \
        else tfds.builder(f"lakh_midi/{config}", data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(manual_dir), **download_kwargs))
    return builder


def _by_key(builder, split):
    return {(ex["source_file"].decode(), int(ex["melody_index"])): ex
            for ex in tfds.as_numpy(builder.as_dataset(split=split))}


def test_tokens_interface_on_any_nested_folder(tmp_path):
    manual = tmp_path / "my midi" / "deeper"
    shutil.copytree(DUMMY / "clean_midi", manual / "nested")
    builder = tfds.builder("lakh_midi/tokens", data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "my midi")))
    examples = _by_key(builder, "train")
    assert len(examples) == 4
    key = ("deeper/nested/Artist A/Long Song.mid", 0)
    tokens = examples[key]["tokens"]
    assert tokens.shape == (36, 32) and tokens.dtype == np.int32
    # the builder stores exactly what the melody layer gives, with its rest flags
    record = melody.file_to_melodies(DUMMY / "clean_midi/Artist A/Long Song.mid")[0]
    np.testing.assert_array_equal(tokens, record.chunks)
    np.testing.assert_array_equal(examples[key]["rests"], record.rests)
    assert examples[key]["rests"].tolist().index(True) == 1  # bars 3-4 are silent: chunk 1 is a rest
    meta = builder.info.metadata
    assert meta["files_read"] == 4 and meta["files_skipped"] == 2 and meta["melodies"] == 5 and meta["chunks"] == 36 + 4 + 4 + 4 + 3
    assert meta["skipped_by_reason"] == {"no melody of 2 bars or more": 1, "unreadable MIDI": 1}
    assert meta["config"]["quantize"] == "paper" and meta["config"]["storage"].startswith("per_melody")


@pytest.mark.parametrize("content", ["empty", "text only"])
def test_empty_or_wrong_folder_gets_instructions(tmp_path, content):
    manual = tmp_path / "manual"
    manual.mkdir()
    if content == "text only":
        (manual / "notes.txt").write_text("not midi")
    with pytest.raises(lakh.ManualDataError, match="lmd_full.tar.gz"):
        build_lakh_midi("tokens", tmp_path / "data", manual)


def test_packed_archive_and_duplicates(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    with tarfile.open(manual / "clean_midi.tar.gz", "w:gz") as archive:
        archive.add(DUMMY / "clean_midi", arcname="clean_midi")
    packed = build_lakh_midi("tokens", tmp_path / "data1", manual)
    # the same files again, unpacked beside the archive: read once (by content hash), counted as duplicates
    shutil.copytree(DUMMY / "clean_midi", manual / "clean_midi")
    both = build_lakh_midi("tokens", tmp_path / "data2", manual)
    for builder in (packed, both):
        assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {"train": 4, "validation": 1}
    assert all(name.startswith("clean_midi.tar.gz/clean_midi/") for name, _ in _by_key(packed, "train"))
    assert both.info.metadata["run"]["files_not_in_any_split"] == {"duplicate content": 6}


def test_pop909_split_and_beats_mode(tmp_path, pop909_dir):
    manual = tmp_path / "pop909"
    manual.mkdir()
    for song in ("001", "005", "010", "002"):
        shutil.copy(pop909_dir / f"{song}.mid", manual / f"{song}.mid")
    builder = build_lakh_midi("tokens-beats-track_MELODY-split_pop909", tmp_path / "data", manual)
    melodies = {song: [r.n_chunks for r in melody.file_to_melodies(pop909_dir / f"{song}.mid", track="MELODY",
                                                                  quantize="beats") if r.n_chunks]
                for song in ("001", "005", "010", "002")}
    expected = {"train": len(melodies["001"]) + len(melodies["002"]), "validation": len(melodies["005"]),
                "test": len(melodies["010"])}  # N%10==0 test, N%10==5 validation, else train
    assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == expected
    assert builder.info.metadata["config"]["quantize"] == "beats"
    test = list(tfds.as_numpy(builder.as_dataset(split="test")))
    assert {ex["source_file"].decode() for ex in test} == {"010.mid"}
    assert {ex["track"].decode() for ex in test} == {"MELODY"}
    assert sorted(len(ex["rests"]) for ex in test) == sorted(melodies["010"])
    from symdiff_tf.cli.commands.evaluate import held_out_split

    spec = f"tfds:lakh_midi/tokens-beats-track_MELODY-split_pop909@{builder.data_dir_root}"
    assert held_out_split(spec, "auto") == "test"  # the test row of `symdiff evaluate` is the test split


def test_config_names_follow_parameters():
    assert lakh.make_config().name == "tokens"
    assert lakh.make_config(quantize="beats", track="MELODY", split="pop909").name == \
        "tokens-beats-track_MELODY-split_pop909"
    with pytest.raises(ValueError, match="quantize"):
        lakh.make_config(quantize="seconds")


def test_latent_config_names_follow_the_vae_content_not_its_file_name(tmp_path):
    first, second, copy = tmp_path / "a" / "model.keras", tmp_path / "b" / "model.keras", tmp_path / "c.keras"
    for path in (first, second):
        path.parent.mkdir()
        musicvae.build_model("tiny").save(path)  # two fresh random VAEs with the same file name
    shutil.copy(first, copy)
    names = [lakh.make_config(vae=str(path), track="MELODY", split="pop909").name for path in (first, second, copy)]
    assert names[0] != names[1]
    assert names[0] == names[2] == f"latents_{vae_content_hash(first)}-beats-track_MELODY-split_pop909"
    assert lakh.make_config(vae=str(first), encode_rests=True).name == f"latents_{vae_content_hash(first)}-rests_encoded"
    with pytest.raises(ValueError, match="content hash"):
        lakh.LakhMidiConfig(name="auto", vae=str(second), vae_hash=vae_content_hash(first))


def _beam_options(mode):
    import apache_beam as beam

    args = ["--runner=DirectRunner"]
    if mode == "multi_processing":
        args += ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    return beam.options.pipeline_options.PipelineOptions(args)


@pytest.fixture(scope="module")
def latent_builds(tmp_path_factory):
    """The tiny-VAE latent config built twice: in this process, and with Beam's DirectRunner (in memory)."""
    root = tmp_path_factory.mktemp("latents")
    write_tiny_vae(TINY_VAE_CONFIG.vae)
    plain = build_lakh_midi(TINY_VAE_CONFIG, root / "plain", DUMMY)
    beamed = build_lakh_midi(TINY_VAE_CONFIG, root / "beam", DUMMY, beam_options=_beam_options("in_memory"))
    return plain, beamed


def test_latents_are_the_vae_posteriors(latent_builds):
    from symdiff_tf import musicvae

    plain, _ = latent_builds
    vae = musicvae.load(TINY_VAE_CONFIG.vae)
    example = _by_key(plain, "train")[("clean_midi/Artist A/Long Song.mid", 0)]
    played = ~example["rests"]
    mu, sigma = vae.encode(example["tokens"][played])
    np.testing.assert_allclose(example["mu"][played], mu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(example["sigma"][played], sigma, rtol=1e-5, atol=1e-5)
    assert not example["mu"][~played].any() and not example["sigma"][~played].any()  # rests: zero, as original
    # metadata: mean sigma per dim over train's non-rest chunks
    train = list(tfds.as_numpy(plain.as_dataset(split="train")))
    expected = np.concatenate([ex["sigma"][~ex["rests"]] for ex in train]).mean(axis=0)
    np.testing.assert_allclose(plain.info.metadata["mean_sigma_train"], expected, rtol=1e-5)
    assert plain.info.metadata["z_size"] == 8


def assert_same_build(plain, beamed):
    """The two builds hold the same splits, examples (latents within float tolerance) and metadata."""
    assert sorted(plain.info.splits) == sorted(beamed.info.splits)
    for split in plain.info.splits:
        a, b = _by_key(plain, split), _by_key(beamed, split)
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_array_equal(a[key]["tokens"], b[key]["tokens"])
            np.testing.assert_allclose(a[key]["mu"], b[key]["mu"], rtol=1e-5, atol=1e-6)
    for key in ("files_read", "files_skipped", "melodies", "chunks", "rest_chunks", "skipped_by_reason"):
        assert plain.info.metadata[key] == beamed.info.metadata[key], key
    np.testing.assert_allclose(plain.info.metadata["mean_sigma_train"], beamed.info.metadata["mean_sigma_train"],
                               rtol=1e-5)
    assert not list(pathlib.Path(beamed.data_dir).glob("_lakh_midi_stats*"))  # side files cleaned up
    json.dumps(beamed.info.metadata)  # plain JSON


def test_beam_build_matches_plain_build(latent_builds):
    assert_same_build(*latent_builds)


@pytest.mark.slow  # ~45 s: two worker processes each import TensorFlow and load the VAE
def test_beam_multiprocess_build_matches_plain_build(latent_builds, tmp_path):
    plain, _ = latent_builds
    beamed = build_lakh_midi(TINY_VAE_CONFIG, tmp_path / "beam_mp", DUMMY, beam_options=_beam_options("multi_processing"))
    assert_same_build(plain, beamed)


def test_built_latents_feed_the_window_pipeline(latent_builds):
    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.latent_windows import datasets_for_training

    plain, _ = latent_builds
    config = LatentDataConfig(window_chunks=32, kept_dims=(0, 2, 5))
    train_ds, eval_ds, scaler = datasets_for_training(
        plain.as_dataset(split="train"), config, evaluation=plain.as_dataset(split="validation"),
        mean_sigma_per_dim=plain.info.metadata["mean_sigma_train"])
    windows = np.stack(list(train_ds.as_numpy_iterator()))
    assert windows.shape == (3, 32, 3)  # Long Song: 36 chunks, rest at 1 -> starts 2, 3, 4
    assert eval_ds is not None and not list(eval_ds)  # the validation melody is 3 chunks: no window


def test_tfds_spec_for_the_data_seam(latent_builds):
    from symdiff_tf.data.sources import open_tfds_windows, opened_scaler

    plain, _ = latent_builds
    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{plain.data_dir_root}"
    train = open_tfds_windows(spec, "train")
    assert train.element_spec.shape == (32, 8) and int(train.cardinality()) == 3
    assert open_tfds_windows(spec, "eval") is not None  # validation split exists (holds no window)
    assert open_tfds_windows(spec, "validation") is open_tfds_windows(spec, "eval")
    assert open_tfds_windows(spec, "test") is None  # the hash split has no test split
    with pytest.raises(ValueError, match="split must be"):
        open_tfds_windows(spec, "tset")
    assert opened_scaler(spec).kept_dims == tuple(range(8))


def test_evaluate_picks_the_test_split_when_there_is_one(latent_builds):
    from symdiff_tf.cli.commands.evaluate import held_out_split

    plain, _ = latent_builds
    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{plain.data_dir_root}"
    assert held_out_split(spec, "auto") == "validation"  # Lakh's hash split: train and validation only
    assert held_out_split(spec, "validation") == "validation"
    with pytest.raises(ValueError, match=r"no test split \(it has train, validation\); choose one with --split"):
        held_out_split(spec, "test")


def test_as_dataset_feeds_the_diffusion_trainer(latent_builds, tmp_path):
    """builder.as_dataset() -> datasets_for_training -> the trainer, nothing in between."""
    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.latent_windows import datasets_for_training
    from symdiff_tf.paths import REPO_ROOT
    from symdiff_tf.training.loop import train
    from symdiff_tf.training.registry import get_spec, load_model_config

    plain, _ = latent_builds
    train_ds, _, _ = datasets_for_training(plain.as_dataset(split="train"), LatentDataConfig())
    ddpm = load_model_config("ddpm", REPO_ROOT / "configs" / "tiny.yaml",
                             ["ddpm.train.sample_every=0", "ddpm.train.eval_every=0"])
    history = train(lambda: get_spec("ddpm").build_task(ddpm), train_ds, ddpm.train, tmp_path, max_steps=1,
                    progress=False)
    assert history and np.isfinite(history[-1]["loss"])


TRANSPOSE = (-6, 5)


def test_transpose_names_a_config_only_when_set():
    assert lakh.make_config(transpose=TRANSPOSE).name == "tokens-transposed_m6_5"
    assert lakh.make_config(track="MELODY", split="pop909", transpose=[0, 3]).name == \
        "tokens-beats-track_MELODY-split_pop909-transposed_0_3"
    assert lakh.make_config(transpose=None).name == "tokens"  # every existing name stays
    for bad in ((1, 5), (-6, -1), (-13, 5), (0, 0), (5,), "up"):
        with pytest.raises(ValueError, match=r"lakh_midi config: transpose="):
            lakh.make_config(transpose=bad)


@pytest.fixture(scope="module")
def transposed_builds(tmp_path_factory):
    """The tiny-VAE latent config with `transpose=(-6, 5)`, built in this process and with Beam's DirectRunner."""
    root = tmp_path_factory.mktemp("transposed")
    config = lakh.make_config(vae=write_tiny_vae(TINY_VAE_CONFIG.vae), encode_batch_size=8, transpose=TRANSPOSE)
    plain = build_lakh_midi(config, root / "plain", DUMMY)
    beamed = build_lakh_midi(config, root / "beam", DUMMY, beam_options=_beam_options("in_memory"))
    return plain, beamed


def _shift(original, transposed) -> int:
    """The semitones between a melody's tokens and its transposed copy (at its first onset)."""
    first = np.flatnonzero(original.reshape(-1) >= CLASS_FIRST_PITCH)[0]
    return int(transposed.reshape(-1)[first]) - int(original.reshape(-1)[first])


def test_train_transposed_holds_each_train_melody_in_every_key_that_fits(transposed_builds, latent_builds):
    built, _ = transposed_builds
    untransposed, _ = latent_builds
    assert built.builder_config.name == f"{TINY_VAE_CONFIG.name}-transposed_m6_5"
    assert sorted(built.info.splits) == ["train", "train_transposed", "validation"]
    for split in ("train", "validation"):  # exactly as built without transpose
        before, after = _by_key(untransposed, split), _by_key(built, split)
        assert sorted(before) == sorted(after)
        for key in before:
            np.testing.assert_array_equal(before[key]["tokens"], after[key]["tokens"])
            np.testing.assert_allclose(before[key]["mu"], after[key]["mu"], rtol=1e-6, atol=1e-7)
    vae = musicvae.load(TINY_VAE_CONFIG.vae)
    train = _by_key(built, "train")
    shifts = collections.defaultdict(list)
    for example in tfds.as_numpy(built.as_dataset(split="train_transposed")):
        key = (example["source_file"].decode(), int(example["melody_index"]))
        original = train[key]
        shift = _shift(original["tokens"], example["tokens"])
        shifts[key].append(shift)
        np.testing.assert_array_equal(example["tokens"], transpose_chunks(original["tokens"], shift))
        np.testing.assert_array_equal(example["rests"], original["rests"])
        played = ~example["rests"]
        mu, sigma = vae.encode(example["tokens"][played])  # encoded like any melody
        np.testing.assert_allclose(example["mu"][played], mu, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(example["sigma"][played], sigma, rtol=1e-5, atol=1e-5)
    expected = {key: shifts_in_range(m["tokens"], *TRANSPOSE) for key, m in train.items()}
    assert {key: sorted(found) for key, found in shifts.items()} == {k: s for k, s in expected.items() if s}
    assert all(0 not in found for found in shifts.values())
    assert sum(map(len, shifts.values())) > 2 * len(train)

    meta, before = built.info.metadata, untransposed.info.metadata
    for key in ("files_read", "files_skipped", "melodies", "chunks", "rest_chunks", "skipped_by_reason"):
        assert meta[key] == before[key], key  # totals: every source file once
    np.testing.assert_allclose(meta["mean_sigma_train"], before["mean_sigma_train"], rtol=1e-6)  # train only
    moved = meta["splits"]["train_transposed"]
    assert moved["files_read"] == before["splits"]["train"]["files_read"]
    assert moved["melodies"] == built.info.splits["train_transposed"].num_examples == sum(map(len, shifts.values()))
    assert len(moved["mean_sigma"]) == 8 and meta["config"]["transpose"] == list(TRANSPOSE)


def test_beam_builds_the_same_train_transposed(transposed_builds):
    assert_same_build(*transposed_builds)


def test_a_dask_task_builds_the_same_train_transposed(transposed_builds):
    from tfds_lakh.dask_build import build_task

    built, _ = transposed_builds
    names = sorted({name for name, _ in _by_key(built, "train")})
    examples, stats = build_task([(name, str(DUMMY / name)) for name in names], built.builder_config,
                                 transposed=True)
    keys = [key for key, _ in examples]
    assert len(set(keys)) == len(keys) == built.info.splits["train_transposed"].num_examples
    assert {"clean_midi/Artist A/Long Song.mid#0-6", "clean_midi/Artist A/Long Song.mid#0+5"} <= set(keys)
    assert not any(key.endswith(("+0", "-0")) for key in keys)
    stored = tfds.as_numpy(built.as_dataset(split="train_transposed"))
    assert sorted(e["tokens"].tobytes() for _, e in examples) == sorted(e["tokens"].tobytes() for e in stored)
    assert stats.files_read == len(names)


def test_transposed_latents_train_on_train_and_train_transposed(transposed_builds, latent_builds):
    import tensorflow as tf

    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.latent_windows import count_windows, datasets_for_training
    from symdiff_tf.data.sources import open_tfds_windows, opened_scaler
    from symdiff_tf.data.worker_shards import ShardedWindows, pipeline_examples

    built, _ = transposed_builds
    spec = f"tfds:lakh_midi/{built.builder_config.name}@{built.data_dir_root}"
    config = LatentDataConfig(transposed=True, z_mode="mu")
    rests = {split: [e["rests"] for e in tfds.as_numpy(built.as_dataset(split=split))]
             for split in ("train", "train_transposed")}
    train_windows, transposed_windows = (count_windows(rests[split], config) for split in rests)
    assert train_windows == 3 and transposed_windows == 3 * 11  # Long Song, in every key of -6..5 but its own
    assert int(open_tfds_windows(spec, "train", config).cardinality()) == train_windows + transposed_windows
    assert int(open_tfds_windows(spec, "train", LatentDataConfig(z_mode="mu")).cardinality()) == train_windows
    # the scaler is fit on both splits; the kept dims still come from train's mean sigma
    _, _, both = datasets_for_training(built.as_dataset(split="train+train_transposed"), config,
                                       mean_sigma_per_dim=built.info.metadata["mean_sigma_train"])
    assert opened_scaler(spec, config) == both
    # symdiff evaluate's ground truth is the train split alone, scaled as the model was trained
    from symdiff_tf.cli.commands.evaluate import _tfds_windows

    ground_truth, scaler = _tfds_windows(spec, "train", 100, 0, config)
    assert len(ground_truth) == train_windows and scaler == both
    # per worker: the files of both splits, shared out between the input pipelines
    sharded = ShardedWindows(built, config)
    assert sharded.split == "train+train_transposed"
    per_pipeline = [len(list(pipeline_examples(built, sharded.split, tf.distribute.InputContext(2, i, 1))))
                    for i in range(2)]
    assert min(per_pipeline) > 0 and sum(per_pipeline) == len(rests["train"]) + len(rests["train_transposed"])

    untransposed, _ = latent_builds
    plain_spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{untransposed.data_dir_root}"
    message = r"latents.transposed is set but the dataset has no train_transposed split .* option transpose"
    with pytest.raises(ValueError, match=f"{TINY_VAE_CONFIG.name}/1.0.0: {message}"):
        open_tfds_windows(plain_spec, "train", config)
    with pytest.raises(ValueError, match=message):
        ShardedWindows(untransposed, config)
