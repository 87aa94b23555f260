"""`symdiff import-magenta CHECKPOINT --config NAME --out FILE`: a Magenta MusicVAE checkpoint -> `.keras`."""
import pathlib


def register(subparsers):
    parser = subparsers.add_parser(
        "import-magenta", help="convert a Magenta MusicVAE checkpoint to a Keras .keras file",
        description="Reads a Magenta MusicVAE checkpoint (the released .tar, the folder holding it unpacked, or a "
                    "checkpoint prefix) and writes a Keras 3 MusicVAE loadable with symdiff_tf.musicvae.load.")
    parser.add_argument("checkpoint", help="Magenta checkpoint: .tar, folder, or prefix (path without .index)")
    parser.add_argument("--config", required=True,
                        help="MusicVAE config name (e.g. cat-mel_2bar_big, cat-mel_2bar_small) or YAML file")
    parser.add_argument("--out", required=True, help="output .keras file")
    parser.set_defaults(func=run)


def run(args) -> int:
    from symdiff_tf.musicvae.magenta_import import import_checkpoint

    out = pathlib.Path(args.out)
    if out.suffix != ".keras":
        raise ValueError(f"--out {out}: the file name must end in .keras")
    model = import_checkpoint(args.checkpoint, args.config)  # ValueError names what is wrong with the checkpoint
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"wrote {out} ({model.count_params():,} parameters, config {args.config})")
    print(f"next: symdiff melodies MIDI_FOLDER --out melodies/, then the latent dataset with vae={out} "
          "(README, 'A typical run')")
    return 0
