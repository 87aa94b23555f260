"""`symdiff export --vae VAE.keras --diffusion RUN_DIR --out DIR/NAME/VERSION`: one SavedModel for TF Serving and
other TF tools, holding the diffusion sampler, the latent scaling and the MusicVAE (docs/serving.md)."""
import pathlib


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="write the trained model as one SavedModel bundle for TF Serving and other TF tools",
        description="Writes a SavedModel with the signatures sample (= serving_default), infill, encode and "
                    "decode into DIR/NAME/VERSION, TF Serving's layout; it needs only TensorFlow to run "
                    "(docs/serving.md).")
    parser.add_argument("--vae", required=True, help="MusicVAE .keras file that encoded the run's training data")
    parser.add_argument("--diffusion", required=True,
                        help="diffusion run: the work directory of `symdiff train` (or one of its checkpoints or "
                             "inference artifacts)")
    parser.add_argument("--out", required=True,
                        help="DIR/NAME/VERSION with VERSION a positive integer, e.g. saved_models/symdiff/1; "
                             "must not hold files yet")
    parser.set_defaults(func=run)


def run(args) -> int:
    from symdiff_tf import musicvae
    from symdiff_tf.export.bundle import export_bundle, version_folder

    version_folder(args.out)  # says what is wrong with --out before the slow part
    vae = musicvae.load(args.vae)
    print(f"exporting {args.diffusion} with {args.vae}: tracing and saving 4 signatures (a minute or more for "
          "paper-size models)", flush=True)
    out = export_bundle(vae, args.diffusion, args.out, vae_path=args.vae)
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    model_dir = pathlib.Path(out).parent
    print(f"wrote {out} ({size / 1e6:.1f} MB): signatures sample (= serving_default), infill, encode, decode; "
          "assets config.yaml, latent_scaling.json, provenance.json")
    print(f"next: saved_model_cli show --dir {out} --all; serve it with TF Serving: docker run -p 8501:8501 "
          f"-v {model_dir.resolve()}:/models/{model_dir.name} -e MODEL_NAME={model_dir.name} tensorflow/serving "
          "(docs/serving.md)")
    return 0
