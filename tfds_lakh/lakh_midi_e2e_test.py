"""End to end: the 43 Lakh clean_midi files -> lakh_midi latents (tiny MusicVAE) -> windows -> diffusion trainer."""
import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_lakh
from symdiff_tf.data.latent_config import LatentDataConfig
from symdiff_tf.data.latent_windows import datasets_for_training
from symdiff_tf.data.scaler import LatentScaler
from symdiff_tf.paths import REPO_ROOT, shared_data_dir
from tfds_lakh.lakh_midi_dataset_builder_test import write_tiny_vae


@pytest.mark.slow  # ~50 s here (2 shared cores): 43 real files, VAE encoding, two trainer steps
def test_lakh_clean_mini_to_diffusion_trainer(tmp_path, capsys):
    from symdiff_tf.training.loop import train
    from symdiff_tf.training.registry import get_spec, load_model_config

    lakh_dir = shared_data_dir() / "lakh_clean_mini"
    assert lakh_dir.is_dir(), f"Lakh sample not found at {lakh_dir}"
    vae = write_tiny_vae(tmp_path / "tiny_vae.keras")
    config = tfds_lakh.make_config(vae=str(vae), encode_batch_size=256)
    builder = tfds.builder("lakh_midi", config=config, data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(lakh_dir)))
    meta = builder.info.metadata
    with capsys.disabled():
        print(f"\nlakh_clean_mini: files found {meta['run']['files_found']}, read {meta['files_read']}, "
              f"skipped {meta['files_skipped']} {meta['skipped_by_reason']}, melodies {meta['melodies']}, "
              f"chunks {meta['chunks']} (rests {meta['rest_chunks']}), per split {meta['run']['files_per_split']}")
        for split in meta["splits"].values():
            for skipped in split["skipped_files"]:
                print(f"  skipped {skipped['file']}: {skipped['reason']} {skipped['detail']}")
    assert meta["run"]["files_found"] == 43
    assert meta["files_read"] + meta["files_skipped"] + sum(meta["run"]["files_not_in_any_split"].values()) == 43
    assert meta["skipped_by_reason"].get("unreadable MIDI", 0) >= 2  # data README: 2 files fail in pretty_midi
    assert meta["melodies"] > 100

    # tfds.load of the built config feeds the latent pipeline and then the trainer, no glue in between
    train_examples = tfds.load(f"lakh_midi/{config.name}", data_dir=str(tmp_path / "data"), split="train")
    data_config = LatentDataConfig(window_chunks=32)
    train_ds, _, scaler = datasets_for_training(train_examples, data_config,
                                                mean_sigma_per_dim=meta["mean_sigma_train"])
    n_windows = int(train_ds.cardinality())
    with capsys.disabled():
        print(f"  32-chunk rest-free windows: {n_windows}; kept dims {scaler.kept_dims}; "
              f"min/max {scaler.minimum:.3f}/{scaler.maximum:.3f}")
    assert n_windows > 0 and scaler.kept_dims == tuple(range(8))  # untrained VAE: sigma ~ softplus(0) < 1
    ddpm = load_model_config("ddpm", REPO_ROOT / "configs" / "tiny.yaml",
                             ["ddpm.train.sample_every=0", "ddpm.train.eval_every=0"])
    history = train(lambda: get_spec("ddpm").build_task(ddpm), train_ds, ddpm.train, tmp_path / "run", max_steps=2,
                    progress=False)
    assert history and np.isfinite(history[-1]["loss"])
    scaler.save(tmp_path / "run")
    assert LatentScaler.load(tmp_path / "run") == scaler
