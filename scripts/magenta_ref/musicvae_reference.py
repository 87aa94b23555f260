"""Magenta side of the MusicVAE parity checks (run under Keras 2 via `run_magenta_script`).

    musicvae_reference.py OUT_DIR --base cat-mel_2bar_small [--z-size 8 --enc 24,16 --dec 20,12]
                          [--batch 6] [--seed 0] [--weight-scale 1.0] [--no-outputs]

Builds the MusicVAE graph with magenta's own code, gives every trainable variable random values (biases too,
so gate order and the forget bias are exercised), saves a checkpoint with a tf.compat.v1 Saver (global_step
included, as TrainedModel restores all globals) at OUT_DIR/ckpt/model.ckpt-0, and writes OUT_DIR/reference.npz:

- tokens `[batch, 32]` random class indices; z `[batch, z_size]` random latents;
- mu, sigma from `TrainedModel.encode_tensors` (the official path);
- logits `[batch, 32, 90]`: teacher-forced decoder outputs for (tokens, z), from the graph built for training
  with scheduled sampling off;
- greedy `[batch, 32]`: `TrainedModel.decode_to_tensors(z, temperature=1e-6)` (argmax up to ties), with its
  per-step logits, so a caller can check that magenta's samples are the argmax of magenta's logits.
"""
import argparse
import copy
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf
from magenta.common import merge_hparams
from magenta.contrib import training as contrib_training
from magenta.models.music_vae import TrainedModel, configs

NUM_CLASSES = 90
SEQ_LEN = 32


def build_config(args):
    base = configs.CONFIG_MAP[args.base]
    overrides = {"sampling_schedule": "constant", "sampling_rate": 0.0}  # teacher forcing for the logits graph
    if args.z_size:
        overrides["z_size"] = args.z_size
    if args.enc:
        overrides["enc_rnn_size"] = [int(u) for u in args.enc.split(",")]
    if args.dec:
        overrides["dec_rnn_size"] = [int(u) for u in args.dec.split(",")]
    hparams = merge_hparams(base.hparams, contrib_training.HParams(**overrides))
    return configs.update_config(base, {"hparams": hparams})


def one_hot(tokens):
    return np.eye(NUM_CLASSES, dtype=np.float32)[tokens]


def make_checkpoint_and_logits(config, prefix, tokens, z, seed, weight_scale, want_logits):
    """Random checkpoint at `prefix`; returns teacher-forced logits for (tokens, z) or None."""
    batch = len(tokens)
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        model = copy.deepcopy(config.model)
        hparams = copy.deepcopy(config.hparams)
        hparams.batch_size = batch
        model.build(hparams, NUM_CLASSES, is_training=False)
        sequence = tf.placeholder(tf.float32, [batch, SEQ_LEN, NUM_CLASSES])
        z_input = tf.placeholder(tf.float32, [batch, hparams.z_size])
        lengths = tf.fill([batch], SEQ_LEN)
        model.encode(sequence, lengths)  # creates the encoder variables
        x_input = tf.pad(sequence[:, :-1], [(0, 0), (1, 0), (0, 0)])
        _, _, results = model.decoder.reconstruction_loss(x_input, sequence, lengths, z_input)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for var in tf.trainable_variables():
                shape = var.shape.as_list()
                std = weight_scale / np.sqrt(shape[0]) if len(shape) == 2 else 0.3 * weight_scale
                sess.run(var.assign(rng.normal(0.0, std, shape).astype(np.float32)))
            tf.train.Saver(tf.global_variables()).save(sess, prefix)
            if not want_logits:
                return None
            return sess.run(results.rnn_output, {sequence: one_hot(tokens), z_input: z})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--base", default="cat-mel_2bar_small")
    parser.add_argument("--z-size", type=int, default=0)
    parser.add_argument("--enc", default="")
    parser.add_argument("--dec", default="")
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight-scale", type=float, default=1.0)
    parser.add_argument("--no-outputs", action="store_true", help="only write the checkpoint")
    args = parser.parse_args()
    tf.disable_v2_behavior()
    tf.logging.set_verbosity(tf.logging.ERROR)

    config = build_config(args)
    z_size = config.hparams.z_size
    rng = np.random.default_rng(args.seed + 1)
    tokens = rng.integers(0, NUM_CLASSES, (args.batch, SEQ_LEN))
    z = rng.normal(0.0, 1.0, (args.batch, z_size)).astype(np.float32)
    prefix = os.path.join(args.out_dir, "ckpt", "model.ckpt-0")
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    logits = make_checkpoint_and_logits(config, prefix, tokens, z, args.seed, args.weight_scale,
                                        not args.no_outputs)
    if args.no_outputs:
        print(prefix)
        return 0

    trained = TrainedModel(config, batch_size=args.batch, checkpoint_dir_or_path=prefix)
    _, mu, sigma = trained.encode_tensors([one_hot(t) for t in tokens], [SEQ_LEN] * args.batch)
    # decode_to_tensors(return_full_results=True) flattens the result tuple into its list, so run the same
    # TrainedModel graph directly to get both the samples and the logits
    results = trained._sess.run(trained._decoder_results, {  # pylint: disable=protected-access
        trained._z_input: z, trained._temperature: 1e-6, trained._max_length: SEQ_LEN})
    greedy = results.samples.argmax(-1)
    greedy_logits = results.rnn_output
    assert np.array_equal(greedy, np.stack(trained.decode_to_tensors(z, length=SEQ_LEN, temperature=1e-6)).argmax(-1))
    np.savez(os.path.join(args.out_dir, "reference.npz"), tokens=tokens, z=z, mu=mu, sigma=sigma, logits=logits,
             greedy=greedy, greedy_logits=greedy_logits)
    print(prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
