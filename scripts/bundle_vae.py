"""Writes the MusicVAE held inside a SavedModel bundle as a `.keras` file (rebuilt by `symdiff_tf.export.reload`,
checked against the content hash the bundle recorded), e.g. to build the bundle's latent dataset with `tfds build`.

    .venv/bin/python scripts/bundle_vae.py saved_models/default/2 runs/bundle2/vae.keras
"""
import argparse
import pathlib


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="a bundle version folder (DIR/NAME/VERSION)")
    parser.add_argument("out", help="the .keras file to write")
    args = parser.parse_args(argv)
    from symdiff_tf.export.reload import open_bundle_model
    from symdiff_tf.musicvae.identity import vae_content_hash

    _, vae = open_bundle_model(args.bundle)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    vae.save(out)
    print(f"wrote {out} (MusicVAE {vae_content_hash(vae)} of {args.bundle})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
