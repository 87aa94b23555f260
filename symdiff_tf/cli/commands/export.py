"""`symdiff export --vae VAE.keras --diffusion RUN_DIR --out DIR/NAME/VERSION`: one SavedModel for TF Serving and
other TF tools, holding the generation pipeline (every scheduler), the latent scaling and the MusicVAE
(docs/serving.md). `symdiff export --bundle OLD_VERSION_DIR --out ...` writes a bundle's weights again with this
version's signatures."""
import pathlib


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="write the trained model as one SavedModel bundle for TF Serving and other TF tools",
        description="Writes a SavedModel with the signatures serving_default, sample, infill, encode and "
                    "decode into DIR/NAME/VERSION, TF Serving's layout; it needs only TensorFlow to run "
                    "(docs/serving.md).")
    parser.add_argument("--vae", default=None, help="MusicVAE .keras file that encoded the run's training data")
    parser.add_argument("--diffusion", default=None,
                        help="diffusion run: the work directory of `symdiff train` (or one of its checkpoints or "
                             "inference artifacts)")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="a config whose ddpm: section the bundle takes instead of the run's (it must fit the "
                             "weights), e.g. other sampling defaults such as infill_resample; with --bundle only its "
                             "sampling: section is taken (the network and schedule must be the bundle's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="ddpm.KEY=VALUE",
                        help="override a value of the ddpm: section taken (the run's, --config's or, with --bundle, "
                             "the bundle's), e.g. ddpm.sampling.infill_resample=2 (repeatable; the network and "
                             "schedule must fit the weights)")
    parser.add_argument("--bundle", default=None, metavar="DIR",
                        help="instead of --vae and --diffusion: a bundle version folder whose weights to export "
                             "again with this version's signatures")
    parser.add_argument("--out", required=True,
                        help="DIR/NAME/VERSION with VERSION a positive integer, e.g. saved_models/symdiff/1; "
                             "must not hold files yet")
    parser.set_defaults(func=run)


def run(args) -> int:
    from symdiff_tf import musicvae
    from symdiff_tf.export.bundle import CONFIG_FILENAME, export_bundle, version_folder, write_bundle

    out = version_folder(args.out)  # says what is wrong with --out before the slow part
    for item in args.overrides:
        if not item.startswith("ddpm."):
            raise ValueError(f"--set {item}: a bundle takes only the ddpm: section's values, e.g. "
                             "--set ddpm.sampling.infill_resample=2")
    if args.bundle is not None:
        if args.vae or args.diffusion:
            raise ValueError("--bundle: give it without --vae/--diffusion (its weights hold the MusicVAE and the "
                             "diffusion model)")
        from symdiff_tf.export.reload import open_bundle_model, with_sampling_of
        from symdiff_tf.generation.pipeline import Pipeline

        model, vae = open_bundle_model(args.bundle)
        if args.config or args.overrides:
            model = with_sampling_of(model, args.config or pathlib.Path(args.bundle) / "assets" / CONFIG_FILENAME,
                                     args.overrides)
        pipeline = Pipeline(model, vae)
        print(f"exporting the weights of {args.bundle} again: tracing and saving 5 signatures", flush=True)
        out = write_bundle(pipeline, out, pipeline.options())
    else:
        if not (args.vae and args.diffusion):
            raise ValueError("give --vae FILE and --diffusion RUN (or --bundle DIR)")
        vae = musicvae.load(args.vae)
        print(f"exporting {args.diffusion} with {args.vae}: tracing and saving 5 signatures (a minute or more for "
              "paper-size models)", flush=True)
        out = export_bundle(vae, args.diffusion, args.out, vae_path=args.vae, config_file=args.config,
                            overrides=args.overrides)
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    model_dir = pathlib.Path(out).parent
    print(f"wrote {out} ({size / 1e6:.1f} MB): signatures serving_default, sample, infill, encode, decode; "
          "assets config.yaml, latent_scaling.json, provenance.json")
    print(f"next: saved_model_cli show --dir {out} --all; serve it with TF Serving: docker run -p 8501:8501 "
          f"-v {model_dir.resolve()}:/models/{model_dir.name} -e MODEL_NAME={model_dir.name} tensorflow/serving "
          "(docs/serving.md)")
    return 0
