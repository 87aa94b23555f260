"""`symdiff kept-dims --vae VAE --data tfds:lakh_midi/CONFIG[@DATA_DIR]`: which latent dims each rule keeps, and what
dropping the others costs in reconstruction.

For each rule (the paper's mean sigma < 1.0, other thresholds, the k most used dims, all dims) it reports the
number of dims kept and the greedy reconstruction of the validation split's chunks from their mu with the dropped
dims refilled as generation refills them (`--fill`: N(0, 1) noise as the original, or zeros), against the original
tokens: token accuracy, note-onset F1 and exact chunks (`symdiff_tf.musicvae.reconstruction`). Use it to set
`latents.kept_top_k` or `latents.sigma_threshold` in a config; the diffusion model's `latent_dim: 0` then follows.
"""
DEFAULT_THRESHOLDS = (0.5, 0.9, 1.0)
DEFAULT_TOP_K = (16, 32, 42, 64, 128)


def register(subparsers):
    parser = subparsers.add_parser(
        "kept-dims", help="what each kept-dims rule keeps and costs in reconstruction",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae", required=True, metavar="FILE", help="the MusicVAE .keras file that made the latents")
    parser.add_argument("--data", required=True, metavar="SPEC",
                        help="tfds:lakh_midi/CONFIG[@DATA_DIR], a latent config")
    parser.add_argument("--thresholds", type=float, nargs="+", default=DEFAULT_THRESHOLDS,
                        help=f"mean-sigma thresholds to report (default {' '.join(map(str, DEFAULT_THRESHOLDS))})")
    parser.add_argument("--top-k", type=int, nargs="+", default=DEFAULT_TOP_K,
                        help="numbers of most used dims to report (those above the VAE's size are left out)")
    parser.add_argument("--fill", choices=("noise", "zeros"), default="noise", help="what refills the dropped dims")
    parser.add_argument("--max-chunks", type=int, default=2000, help="validation chunks to decode (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, metavar="FILE.json", help="also write the rows as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    import json

    import numpy as np
    from tqdm import tqdm

    from symdiff_tf import musicvae
    from symdiff_tf.data.melody_latents import select_kept_dims
    from symdiff_tf.data.tfds_spec import open_builder
    from symdiff_tf.musicvae.identity import vae_content_hash
    from symdiff_tf.musicvae.reconstruction import reconstruction_counts, reconstruction_scores

    builder = open_builder(args.data)
    mean_sigma = builder.info.metadata.get("mean_sigma_train")
    if mean_sigma is None:
        raise ValueError(f"--data {args.data}: a dataset of tokens only; kept dims need a latent config (with a VAE)")
    vae = musicvae.load(args.vae)
    made_by = (builder.info.metadata.get("config") or {}).get("vae_hash")
    if made_by and made_by != vae_content_hash(vae):
        raise ValueError(f"--vae {args.vae}: content hash {vae_content_hash(vae)}, but the latents of {args.data} were "
                         f"made by the VAE {made_by}")
    tokens, mu = _validation_chunks(builder, args.max_chunks)
    rules = [(f"mean sigma < {t:g}" + (" (paper)" if t == 1.0 else ""), select_kept_dims(mean_sigma, t))
             for t in args.thresholds if (np.asarray(mean_sigma) < t).any()]
    rules += [(f"{k} most used", select_kept_dims(mean_sigma, top_k=k)) for k in args.top_k if k < len(mean_sigma)]
    rules.append(("all", np.arange(len(mean_sigma))))
    rng = np.random.default_rng(args.seed)
    refill = rng.standard_normal(mu.shape).astype(np.float32) if args.fill == "noise" else np.zeros_like(mu)
    rows = []
    for name, kept in tqdm(rules, desc="decoding", unit=" rules"):
        z = refill.copy()
        z[:, kept] = mu[:, kept]
        decoded = np.concatenate([vae.decode(z[i:i + 512]) for i in range(0, len(z), 512)])
        scores = reconstruction_scores(reconstruction_counts(decoded, tokens))
        rows.append({"rule": name, "kept": int(len(kept)), **{k: round(float(v), 4) for k, v in scores.items()}})
    print(f"{len(tokens)} validation chunks of {args.data}, dropped dims refilled with {args.fill}:")
    print(f"{'rule':<24} {'kept':>5} {'tokens':>7} {'note F1':>8} {'exact':>6}")
    for row in rows:
        print(f"{row['rule']:<24} {row['kept']:>5} {row['token_accuracy']:>7.3f} {row['note_f1']:>8.3f} "
              f"{row['exact_chunks']:>6.3f}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"data": args.data, "vae": args.vae, "fill": args.fill, "rows": rows}, f, indent=2)
        print(f"wrote {args.out}")
    print("next: set latents.kept_top_k (or latents.sigma_threshold) in your config; with model.latent_dim: 0 the "
          "diffusion model takes as many dims as you keep")
    return 0


def _validation_chunks(builder, max_chunks: int):
    """(tokens `[n, 32]` int32, mu `[n, z]` float32) of up to `max_chunks` chunks of the validation split (train
    when there is none), rest chunks with zero latents left out."""
    import numpy as np
    import tensorflow_datasets as tfds

    split = "validation" if "validation" in builder.info.splits else "train"
    tokens, mus, count = [], [], 0
    for example in tfds.as_numpy(builder.as_dataset(split=split)):
        keep = np.abs(example["mu"]).sum(axis=1) > 0  # rest chunks of the original convention: zero latents
        tokens.append(example["tokens"][keep])
        mus.append(example["mu"][keep])
        count += int(keep.sum())
        if count >= max_chunks:
            break
    if not count:
        raise ValueError(f"the {split} split holds no encoded chunks")
    return np.concatenate(tokens)[:max_chunks].astype(np.int32), np.concatenate(mus)[:max_chunks].astype(np.float32)
