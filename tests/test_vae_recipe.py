"""The default model's VAE recipe and its data: note-level reconstruction scores, word dropout, the fast latent
init, chunk archives from `symdiff melodies --split pop909`, and train-vae reading them."""
import json

import numpy as np
import pytest

from symdiff_tf import musicvae
from symdiff_tf.cli import main
from symdiff_tf.melody.splits import pop909_split
from symdiff_tf.musicvae.reconstruction import reconstruction_counts, reconstruction_scores


def test_reconstruction_scores_count_notes_not_holds():
    target = np.zeros((2, 32), np.int32)
    target[:, ::8] = 50  # 4 onsets per chunk
    silence = np.zeros_like(target)  # the decoder that outputs only holds
    silent = reconstruction_scores(reconstruction_counts(silence, target))
    assert silent["token_accuracy"] == pytest.approx(28 / 32)
    assert silent["note_recall"] == 0.0 and silent["note_f1"] == 0.0 and silent["exact_chunks"] == 0.0
    decoded = target.copy()
    decoded[0, 0] = 51  # one wrong pitch
    decoded[1, 4] = 60  # one extra onset
    scores = reconstruction_scores(reconstruction_counts(decoded, target))
    assert scores["note_precision"] == pytest.approx(7 / 9)
    assert scores["note_recall"] == pytest.approx(7 / 8)
    assert scores["note_f1"] == pytest.approx(2 * 7 / 17)
    assert scores["exact_chunks"] == 0.0
    assert reconstruction_scores(reconstruction_counts(target, target))["exact_chunks"] == 1.0


def test_word_dropout_feeds_the_zero_input():
    import tensorflow as tf

    model = musicvae.build_model("tiny-single")
    tokens = tf.constant(np.tile(np.arange(2, 34, dtype=np.int32), (3, 1)))
    z = tf.random.stateless_normal([3, model.z_size], seed=[1, 2])
    forced, _ = model.run_decoder(z, targets=tokens)
    none_dropped, _ = model.run_decoder(z, targets=tokens, input_dropout=tf.zeros([3, 32], bool))
    np.testing.assert_array_equal(forced.numpy(), none_dropped.numpy())
    all_dropped, _ = model.run_decoder(z, targets=tokens, input_dropout=tf.ones([3, 32], bool))
    # with every input dropped, every step sees what step 0 sees: the result no longer depends on the targets
    other, _ = model.run_decoder(z, targets=tokens[:, ::-1], input_dropout=tf.ones([3, 32], bool))
    np.testing.assert_allclose(all_dropped.numpy(), other.numpy(), atol=1e-6)
    assert not np.allclose(forced.numpy()[:, 1:], all_dropped.numpy()[:, 1:])


def test_fast_latent_init_makes_z_follow_the_chunk(tmp_path):
    from symdiff_tf.training.musicvae import Trainer, TrainOptions

    tokens = np.tile(np.arange(2, 34, dtype=np.int32), (4, 1))
    tokens[1, ::2] = 0
    spread = {}
    for init in ("magenta", "fast"):
        config = musicvae.get_config("tiny-single", {"latent_init": init})
        trainer = Trainer(config, tmp_path / init, TrainOptions(steps=1, batch_size=4))
        mu, sigma = trainer.model.encode(tokens)
        spread[init] = (np.abs(mu[0] - mu[1]).max(), float(sigma.mean()))
    assert spread["fast"][0] > 20 * spread["magenta"][0]  # mu tells chunks apart from the first step
    assert spread["fast"][1] < 0.05 < spread["magenta"][1]  # and z is not drowned in noise
    with pytest.raises(Exception, match="latent_init"):
        musicvae.get_config("tiny-single", {"latent_init": "zeros"})


def test_pop909_split_rule():
    assert [pop909_split(f"{n:03d}.mid") for n in (10, 15, 7, 909)] == ["test", "validation", "train", "train"]
    with pytest.raises(ValueError, match="song number"):
        pop909_split("song.mid")


def test_melodies_chunk_archives_feed_train_vae(tmp_path, pop909_dir):
    songs = tmp_path / "songs"
    songs.mkdir()
    for number in ("001", "005", "010"):
        (songs / f"{number}.mid").write_bytes((pop909_dir / f"{number}.mid").read_bytes())
    out = tmp_path / "melodies"
    assert main(["melodies", str(songs), "--track", "MELODY", "--split", "pop909", "--no-render",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(summary["chunk_files"]) == ["chunks-test.npz", "chunks-train.npz", "chunks-validation.npz"]
    assert not list(out.glob("*.mid"))
    with np.load(out / "chunks-test.npz") as test:
        assert set(test["sources"]) == {str(songs / "010.mid")}
        assert test["tokens"].shape == (len(test["rests"]), 32) and test["rests"].any()
        n_test = len(test["tokens"])
    assert summary["chunk_files"]["chunks-test.npz"] == n_test

    from symdiff_tf.musicvae.data import load_token_chunks

    played, skipped = load_token_chunks(out / "chunks-train.npz")
    everything, _ = load_token_chunks(out / "chunks-train.npz", keep_rests=True)
    assert len(everything) == len(played) + skipped["rest chunks"] and skipped["rest chunks"] > 0

    work = tmp_path / "vae"
    assert main(["train-vae", "--config", "tiny", "--data", str(out / "chunks-train.npz"),
                 "--eval-data", str(out / "chunks-validation.npz"), "--keep-rests", "--workdir", str(work),
                 "--steps", "4", "--batch-size", "8", "--log-every", "2", "--eval-every", "4",
                 "--no-progress"]) == 0
    last = json.loads((work / "train_log.jsonl").read_text().splitlines()[-1])
    for key in ("eval_note_f1", "eval_note_precision", "eval_note_recall", "eval_exact_chunks",
                "eval_sampled_accuracy"):
        assert 0.0 <= last[key] <= 1.0


def test_bfloat16_training_moves_every_float32_weight(tmp_path):
    import tensorflow as tf

    from symdiff_tf.training.musicvae import Trainer, TrainOptions

    tokens = tf.constant(np.tile(np.arange(2, 34, dtype=np.int32), (4, 1)))
    losses = {}
    for precision in ("float32", "bfloat16"):
        config = musicvae.get_config("tiny", {"train_precision": precision, "sampling_schedule": ""})
        trainer = Trainer(config, tmp_path / precision, TrainOptions(steps=1, batch_size=4))
        before = [v.numpy() for v in trainer.model.trainable_variables]
        losses[precision] = float(trainer.train_step(tokens)["loss"])
        after = trainer.model.trainable_variables
        assert all(v.dtype == "float32" for v in after)
        # the cast to bfloat16 passes gradients back: every weight moves, the recurrent kernels too
        unmoved = [v.path for v, b in zip(after, before) if np.array_equal(v.numpy(), b)]
        assert not unmoved
    # the same seed and batch: the same loss up to bfloat16 rounding of the products
    assert losses["bfloat16"] == pytest.approx(losses["float32"], rel=0.02)
    assert losses["bfloat16"] != losses["float32"]
    with pytest.raises(Exception, match="train_precision"):
        musicvae.get_config("tiny", {"train_precision": "float16"})
