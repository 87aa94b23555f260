"""Greedy reconstruction of a MusicVAE on a chunk archive: token accuracy, note-onset precision / recall / F1 and
exact chunks, decoding mu (`symdiff_tf.musicvae.reconstruction`), over all chunks and over the non-rest ones.

    python scripts/vae_reconstruction.py runs/default/vae/model.keras runs/default/melodies/chunks-validation.npz \
        [--out FILE.json] [--precision float32|bfloat16]
"""
import argparse
import json

import numpy as np


BATCH = 512


def main() -> int:
    from symdiff_tf.cli.terminal import quiet_stderr

    quiet_stderr()  # TensorFlow's start-up noise off the terminal (before TensorFlow is imported)
    from symdiff_tf import musicvae
    from symdiff_tf.errors import load_arrays
    from symdiff_tf.musicvae.reconstruction import reconstruction_counts, reconstruction_scores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vae")
    parser.add_argument("chunks", help="a chunk archive from `symdiff melodies`")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    vae = musicvae.load(args.vae)
    archive = load_arrays(args.chunks, "a chunk archive from `symdiff melodies`")
    tokens, rests = archive["tokens"].astype(np.int32), archive["rests"].astype(bool)
    decoded = []
    for begin in range(0, len(tokens), BATCH):
        mu, _ = vae.encode(tokens[begin:begin + BATCH], precision=args.precision)
        decoded.append(vae.decode(mu, precision=args.precision))
    decoded = np.concatenate(decoded)
    result = {"vae": args.vae, "chunks": args.chunks, "precision": args.precision}
    for name, rows in (("all chunks", np.ones(len(tokens), bool)), ("non-rest chunks", ~rests)):
        scores = reconstruction_scores(reconstruction_counts(decoded[rows], tokens[rows]))
        result[name] = {"count": int(rows.sum()), **{k: round(v, 4) for k, v in scores.items()}}
        print(name, json.dumps(result[name]))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
