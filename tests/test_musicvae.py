"""MusicVAE model, errors, serialisation and training on tiny configs (fast; parity with magenta is in
test_musicvae_parity.py)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from symdiff_tf import musicvae
from symdiff_tf.paths import REPO_ROOT


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(1)
    vae = musicvae.build_model("tiny")
    # larger than the initial weights, so decodes vary from step to step and the tests below mean something
    for variable in vae.trainable_variables:
        variable.assign(np.random.default_rng(2).normal(0, 0.5, variable.shape).astype("float32"))
    return vae


@pytest.fixture(scope="module")
def tokens():
    return np.random.default_rng(0).integers(0, 90, (5, 32))


def melodic_chunks(n, seed=0):
    """Chunks with structure a VAE can learn: a few repeated pitch patterns, held notes."""
    rng = np.random.default_rng(seed)
    chunks = np.zeros((n, 32), np.int64)
    for row in chunks:
        pitches = 2 + 40 + rng.integers(-5, 6) + np.array([0, 4, 7, 12])[rng.integers(0, 4, 8)]
        row[::4] = pitches
    return chunks


def test_shapes_and_ranges(model, tokens):
    mu, sigma = model.encode(tokens)
    assert mu.shape == sigma.shape == (5, 8) and mu.dtype == np.float32
    assert (sigma > 0).all()
    decoded = model.decode(mu)
    assert decoded.shape == (5, 32) and decoded.dtype == np.int32
    assert decoded.min() >= 0 and decoded.max() < 90
    assert model(tokens).shape == (5, 32, 90)
    assert model.count_params() == sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def test_one_hot_input_equals_indices(model, tokens):
    np.testing.assert_array_equal(model.encode(np.eye(90)[tokens])[0], model.encode(tokens)[0])


def test_greedy_is_argmax_of_teacher_forced_logits_on_its_output(model):
    z = np.random.default_rng(3).normal(size=(6, 8)).astype("float32")
    decoded = model.decode(z, temperature=0.0)
    assert len(np.unique(decoded)) > 3
    logits = model.teacher_forced_logits(decoded, z)
    np.testing.assert_array_equal(logits.argmax(-1), decoded)


def test_initial_state_order_is_c0_h0_c1_h1(model):
    z = np.random.default_rng(4).normal(size=(2, 8)).astype("float32")
    flat = np.tanh(z @ model.z_to_initial_state.kernel.numpy() + model.z_to_initial_state.bias.numpy())
    states = model.initial_states(z)
    np.testing.assert_allclose(np.asarray(states[0][0]), flat[:, :20], atol=1e-6)  # c0
    np.testing.assert_allclose(np.asarray(states[0][1]), flat[:, 20:40], atol=1e-6)  # h0
    np.testing.assert_allclose(np.asarray(states[1][1]), flat[:, 52:64], atol=1e-6)  # h1


def test_sampling_is_seeded(model):
    z = np.random.default_rng(5).normal(size=(4, 8)).astype("float32")
    first = model.decode(z, temperature=1.0, seed=7)
    np.testing.assert_array_equal(first, model.decode(z, temperature=1.0, seed=7))
    assert not np.array_equal(first, model.decode(z, temperature=1.0, seed=8))
    assert not np.array_equal(first, model.decode(z, temperature=0.0))
    # a very low temperature is greedy
    np.testing.assert_array_equal(model.decode(z, temperature=1e-6, seed=1), model.decode(z))


def test_bfloat16_path_mostly_agrees(model):
    z = np.random.default_rng(6).normal(size=(16, 8)).astype("float32")
    agree = (model.decode(z, precision="bfloat16") == model.decode(z)).mean()
    assert agree > 0.8
    tokens = np.random.default_rng(0).integers(0, 90, (16, 32))
    mu32, _ = model.encode(tokens)
    mu16, _ = model.encode(tokens, precision="bfloat16")
    assert 0 < np.abs(mu16 - mu32).max() < 0.05  # bfloat16 really ran, and stayed close
    # one chunk runs the same bfloat16 path as a batch (no per-batch-size switch)
    np.testing.assert_allclose(model.encode(tokens[:1], precision="bfloat16")[0], mu16[:1], atol=1e-6)
    with pytest.raises(ValueError, match="precision must be one of"):
        model.decode(z, precision="float16")


def test_keras_round_trip(model, tokens, tmp_path):
    path = tmp_path / "vae.keras"
    model.save(path)
    loaded = musicvae.load(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(np.asarray(loaded(tokens)), np.asarray(model(tokens)), atol=1e-6)
    z = np.random.default_rng(7).normal(size=(3, 8)).astype("float32")
    np.testing.assert_array_equal(loaded.decode(z), model.decode(z))


def test_content_hash_names_the_weights_not_the_file(model, tmp_path):
    from symdiff_tf.musicvae.identity import vae_content_hash

    model.save(tmp_path / "a.keras")
    model.save(tmp_path / "renamed.keras")
    found = vae_content_hash(model)
    assert len(found) == 16 and int(found, 16) >= 0
    assert vae_content_hash(tmp_path / "a.keras") == vae_content_hash(tmp_path / "renamed.keras") == found
    changed = musicvae.load(tmp_path / "a.keras")
    weight = changed.weights[-1]
    weight.assign(weight.numpy() + np.float32(1e-3))  # one weight array, slightly: another VAE
    assert vae_content_hash(changed) != found


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 16), np.int64), r"expected tokens \[batch, 32\].*got shape \[2, 16\]"),
    (np.zeros((2, 32, 88)), r"depth 88 instead of 90"),
    (np.zeros((2, 32), np.float32), r"got dtype float32"),
    (np.full((2, 32), 90), r"got values in \[90, 90\]"),
    (np.full((2, 32), -1), r"got values in \[-1, -1\]"),
])
def test_bad_tokens(model, bad, message):
    with pytest.raises(ValueError, match=message):
        model.encode(bad)


def test_bad_latents(model):
    z = np.zeros((3, 8), np.float32)
    z[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\), first rows \[1\]"):
        model.decode(z)
    with pytest.raises(ValueError, match=r"expected latents z \[batch, 8\]; got shape \[3, 9\]"):
        model.decode(np.zeros((3, 9)))
    with pytest.raises(ValueError, match="temperature"):
        model.decode(np.zeros((3, 8)), temperature=-1.0)


def test_load_refuses_other_files(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="holds a Sequential, not a MusicVAE"):
        musicvae.load(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="no such MusicVAE file"):
        musicvae.load(tmp_path / "missing.keras")
    (tmp_path / "ckpt.index").write_text("x")
    with pytest.raises(ValueError, match="import-magenta"):
        musicvae.load(tmp_path / "ckpt.index")


def test_lstm_block_conversion_round_trips():
    from symdiff_tf.musicvae.magenta_import import keras_to_lstm_block, lstm_block_to_keras

    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(7 + 3, 12)), rng.normal(size=12)
    k, r, b = lstm_block_to_keras(kernel, bias, 7)
    assert k.shape == (7, 12) and r.shape == (3, 12)
    np.testing.assert_allclose(b[3:6], bias[6:9] + 1.0)  # Keras f block = TF f block + forget bias
    np.testing.assert_allclose(k[:, 6:9], kernel[:7, 3:6])  # Keras c block = TF j block
    back_kernel, back_bias = keras_to_lstm_block(k, r, b)
    np.testing.assert_allclose(back_kernel, kernel)
    np.testing.assert_allclose(back_bias, bias)


def test_transposition_keeps_notes_in_range():
    import tensorflow as tf

    from symdiff_tf.training.musicvae import transpose_tokens

    chunk = np.array([0, 1, 2, 89, 40] + [0] * 27, np.int32)  # lowest and highest notes: no room to move
    for seed in range(5):
        np.testing.assert_array_equal(transpose_tokens(tf.constant(chunk), tf.constant([seed, 0], tf.int64),
                                                       (-5, 5)).numpy(), chunk)
    chunk = np.array([0, 1, 40, 50] + [0] * 28, np.int32)
    shifts = {int(transpose_tokens(tf.constant(chunk), tf.constant([seed, 1], tf.int64), (-5, 5)).numpy()[2]) - 40
              for seed in range(40)}
    assert shifts <= set(range(-5, 6)) and len(shifts) > 5


def test_schedules_match_magenta_formulas():
    from symdiff_tf.musicvae.configs import get_config
    from symdiff_tf.training.musicvae import MagentaLearningRate, kl_beta, sampling_probability

    big = get_config("cat-mel_2bar_big")
    assert float(kl_beta(big, 0)) == 0.0
    # float32 like Magenta's graph (0.99999 is not exact in float32), hence the tolerance
    np.testing.assert_allclose(float(kl_beta(big, 100000)), (1 - 0.99999 ** 100000) * 0.5, rtol=2e-3)
    np.testing.assert_allclose(float(sampling_probability(big, 2000)), 1 - 1000 / (1000 + np.exp(2.0)), rtol=1e-5)
    assert float(sampling_probability(get_config("tiny-single"), 5000)) == 0.0
    schedule = MagentaLearningRate(1e-3, 0.9999, 1e-5)
    np.testing.assert_allclose(float(schedule(10000)), (1e-3 - 1e-5) * 0.9999 ** 10000 + 1e-5, rtol=1e-3)


def test_training_reduces_loss_and_reports(tmp_path):
    from symdiff_tf.training.musicvae import Trainer, TrainOptions

    chunks = melodic_chunks(64)
    config = musicvae.get_config("tiny-single", {"sampling_schedule": "inverse_sigmoid", "sampling_rate": 10.0})
    trainer = Trainer(config, tmp_path, TrainOptions(steps=30, batch_size=16, log_every=10, eval_every=30,
                                                     checkpoint_every=30))
    records = trainer.fit(chunks[:48], chunks[48:], progress=False)
    assert [r["step"] for r in records] == [10, 20, 30]
    assert records[-1]["r_loss"] < 0.7 * records[0]["r_loss"]
    for key in ("eval_teacher_forced_accuracy", "eval_sampled_accuracy", "eval_kl_bits", "beta",
                "sampling_probability"):
        assert key in records[-1]
    assert 0.0 < records[-1]["beta"] < 0.2
    # the 30th step ran at step count 29
    assert records[-1]["sampling_probability"] == pytest.approx(1 - 10 / (10 + np.exp(2.9)), abs=1e-5)
    assert (tmp_path / "train_log.jsonl").is_file() and list((tmp_path / "tensorboard").iterdir())


def _train_command(data, workdir, steps):
    return [sys.executable, "-m", "symdiff_tf.cli.commands.train_vae", "--config", "tiny-single", "--data", str(data),
            "--workdir", str(workdir), "--steps", str(steps), "--batch-size", "8", "--checkpoint-every", "4",
            "--log-every", "4", "--eval-every", "0", "--no-progress"]


def test_train_vae_resumes_after_sigkill(tmp_path):
    """Kill the trainer after its first checkpoint; the restart continues from that step and ends with the same
    weights as a run that was never interrupted."""
    import tensorflow as tf

    from symdiff_tf.training.musicvae import Trainer, TrainOptions

    data = tmp_path / "chunks.npz"
    np.savez(data, tokens=melodic_chunks(80))
    workdir = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(_train_command(data, workdir, 100000), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while tf.train.latest_checkpoint(str(workdir / "checkpoints")) is None:
            assert proc.poll() is None and time.time() < deadline, "trainer ended before its first checkpoint"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = int(tf.train.latest_checkpoint(str(workdir / "checkpoints")).rsplit("-", 1)[1])
    assert killed_at % 4 == 0 and killed_at > 0
    final_step = killed_at + 8
    restarted = subprocess.run(_train_command(data, workdir, final_step), env=env, capture_output=True, text=True,
                               timeout=300)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert f"resumed from step {killed_at}" in restarted.stdout
    assert f"at step {final_step}" in restarted.stdout
    logged = [json.loads(line)["step"] for line in (workdir / "train_log.jsonl").read_text().splitlines()]
    assert logged[-1] == final_step

    # the same run without interruption, in this process, from the same data split
    from symdiff_tf.musicvae.data import load_token_chunks, split_train_eval

    train_chunks, _ = split_train_eval(load_token_chunks(data)[0], 0.05, 0)
    straight = Trainer(musicvae.get_config("tiny-single"), tmp_path / "straight",
                       TrainOptions(steps=final_step, batch_size=8, checkpoint_every=1000, log_every=1000))
    straight.fit(train_chunks, progress=False)
    resumed = musicvae.load(workdir / "model.keras")
    for a, b in zip(straight.model.trainable_variables, resumed.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_bad_data_is_refused(tmp_path):
    from symdiff_tf.musicvae.data import load_token_chunks

    np.save(tmp_path / "bad.npy", np.zeros((4, 31), np.int64))
    with pytest.raises(ValueError, match=r"bad.npy: expected tokens \[batch, 32\]"):
        load_token_chunks(tmp_path / "bad.npy")
    with pytest.raises(ValueError, match="tfds:lakh_midi/tokens@.*no built dataset in .*build it first"):
        load_token_chunks(f"tfds:lakh_midi/tokens@{tmp_path}")  # not built there


def test_midi_folder_data_skips_bad_files_and_rest_chunks(pop909_dir, tmp_path):
    from symdiff_tf.melody import file_to_melodies
    from symdiff_tf.musicvae.data import load_token_chunks

    (tmp_path / "song.mid").symlink_to(pop909_dir / "001.mid")
    (tmp_path / "broken.mid").write_text("not midi")
    chunks, skipped = load_token_chunks(tmp_path, progress=False)
    assert chunks.ndim == 2 and chunks.shape[1] == 32 and len(chunks) > 10 and chunks.dtype == np.int32
    # the same rule as from tfds: (tests/test_data_seams.py): every melody's non-rest chunks, in order, and the
    # rest chunks counted under the same key
    melodies = file_to_melodies(pop909_dir / "001.mid")
    rests = sum(int(m.rests.sum()) for m in melodies)
    assert rests > 0
    np.testing.assert_array_equal(chunks, np.concatenate([m.chunks[~m.rests] for m in melodies]))
    assert skipped.pop("rest chunks") == rests
    assert sum(skipped.values()) == 1 and all("broken" not in reason for reason in skipped)


def test_played_chunks_drops_the_flagged_chunks():
    from symdiff_tf.musicvae.data import played_chunks

    tokens = np.arange(4 * 32, dtype=np.int64).reshape(4, 32) % 90
    played, dropped = played_chunks(tokens, np.array([False, True, False, True]))
    np.testing.assert_array_equal(played, tokens[[0, 2]])
    assert played.dtype == np.int32 and dropped == 2
    with pytest.raises(ValueError, match="rest flags of shape"):
        played_chunks(tokens, np.zeros(3, bool))
