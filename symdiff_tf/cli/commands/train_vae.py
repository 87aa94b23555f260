"""`symdiff train-vae --config NAME --data PATH --workdir DIR`: trains a MusicVAE, resuming from DIR."""
import pathlib
import sys

from symdiff_tf.melody.extract import QUANTIZE_MODES


def register(subparsers):
    parser = subparsers.add_parser(
        "train-vae", help="train a MusicVAE on 2-bar melody chunks (resumes from --workdir)",
        description="Trains a MusicVAE as Magenta does (KL annealing, scheduled sampling, transposition, Adam with "
                    "decay to a floor, gradient clipping). Killed and restarted with the same arguments, it "
                    "continues from the last checkpoint in --workdir. Writes WORKDIR/model.keras at the end.")
    parser.add_argument("--config", required=True, help="cat-mel_2bar_big, cat-mel_2bar_small, tiny, or a YAML file")
    parser.add_argument("--data", required=True,
                        help=".npz/.npy of token chunks [n, 32], a folder of MIDI files (their non-rest chunks), or "
                             "tfds:lakh_midi/CONFIG[@DATA_DIR] (the train split's non-rest chunks)")
    parser.add_argument("--workdir", required=True, help="checkpoints, TensorBoard logs and the final model")
    parser.add_argument("--steps", type=int, default=1000, help="total optimizer steps (including resumed ones)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's batch_size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--eval-data", default=None,
                        help="chunks to evaluate on, in any --data form (a tfds: spec reads its validation split); "
                             "default: hold out --eval-fraction of --data")
    parser.add_argument("--eval-fraction", type=float, default=0.05,
                        help="share of --data held out for evaluation when --eval-data is not given")
    parser.add_argument("--track", default=None, help="MIDI track name for melody extraction (folders only)")
    parser.add_argument("--quantize", choices=QUANTIZE_MODES, default=None,
                        help="melody quantisation for MIDI folders (default: beats with --track, else paper)")
    parser.add_argument("--keep-rests", action="store_true",
                        help="train on the rest chunks too (silent, or notes in one bar only), for a latent dataset "
                             "built with encode_rests; default: leave them out, as the paper's zero latents")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set sampling_schedule= --set max_beta=0.2")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    import logging

    from symdiff_tf.config import apply_overrides
    from symdiff_tf.musicvae.configs import get_config
    from symdiff_tf.musicvae.data import load_token_chunks, split_train_eval
    from symdiff_tf.training.musicvae import Trainer, TrainOptions

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = get_config(args.config, apply_overrides({}, args.overrides))
    chunks, skipped = load_token_chunks(args.data, track=args.track, quantize=args.quantize,
                                        progress=not args.no_progress, keep_rests=args.keep_rests)
    if args.eval_data:
        train_chunks = chunks
        eval_chunks, _ = load_token_chunks(args.eval_data, track=args.track, quantize=args.quantize,
                                           progress=not args.no_progress, split="validation",
                                           keep_rests=args.keep_rests)
    else:
        train_chunks, eval_chunks = split_train_eval(chunks, args.eval_fraction, args.seed)
    skipped = {reason: count for reason, count in skipped.items() if count}
    print(f"data: {len(train_chunks)} train / {len(eval_chunks)} eval chunks"
          + (f"; skipped: {skipped}" if skipped else ""), flush=True)
    options = TrainOptions(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                           checkpoint_every=args.checkpoint_every, log_every=args.log_every,
                           eval_every=args.eval_every)
    trainer = Trainer(config, args.workdir, options)
    if trainer.resumed_from is not None:
        print(f"resumed from step {trainer.resumed_from}", flush=True)
    records = trainer.fit(train_chunks, eval_chunks, progress=not args.no_progress)
    path = trainer.save_model()
    if records:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in records[-1].items()))
    from symdiff_tf.musicvae.identity import vae_content_hash
    from symdiff_tf.training.summaries import viewer_command

    print(f"wrote {path} at step {trainer.step} (content hash {vae_content_hash(trainer.model)}); TensorBoard logs "
          f"and train_log.jsonl in {args.workdir}", flush=True)
    rests = ', "encode_rests": true' if args.keep_rests else ""
    print(f"next: the latent dataset of your MIDI with this VAE: tfds build lakh_midi --imports tfds_lakh "
          f"--config '{{\"name\": \"auto\", \"vae\": \"{path}\"{rests}}}' --manual_dir MIDI_FOLDER "
          "(tfds_lakh/README.md)", flush=True)
    print(f"TensorBoard: {viewer_command(pathlib.Path(args.workdir) / 'tensorboard')}", flush=True)
    return 0


if __name__ == "__main__":  # `python -m symdiff_tf.cli.commands.train_vae ...`, without the other subcommands
    import argparse

    _parser = argparse.ArgumentParser(prog="train-vae")
    register(_parser.add_subparsers())
    _args = _parser.parse_args(["train-vae", *sys.argv[1:]])
    sys.exit(_args.func(_args))
