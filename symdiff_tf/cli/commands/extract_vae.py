"""`symdiff extract-vae BUNDLE --out FILE.keras`: the MusicVAE a bundle holds, as a `.keras` file that every
`--vae` option and the `lakh_midi` builder's `vae` take.

A bundle carries its MusicVAE's weights, so a shipped model's latent space can be used again without its run
folder: build a latent dataset with it (POP909, or Lakh MIDI on many workers), train another diffusion model on
those latents, and export that beside the shipped one. The file is checked against the content hash the bundle
recorded, so the latent dataset it builds is named after the same VAE.
"""
import pathlib


def register(subparsers):
    parser = subparsers.add_parser(
        "extract-vae", help="write the MusicVAE a bundle holds as a .keras file",
        description=__doc__.split("\n\n")[0].replace("`", ""))
    parser.add_argument("bundle", metavar="BUNDLE", help="a bundle version folder, e.g. saved_models/default/4")
    parser.add_argument("--out", required=True, metavar="FILE.keras", help="the file to write (must not exist)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import json

    from symdiff_tf import musicvae
    from symdiff_tf.export.reload import open_bundle_vae
    from symdiff_tf.musicvae.identity import vae_content_hash

    out = pathlib.Path(args.out)
    if out.suffix != ".keras":
        raise ValueError(f"--out {out}: the file name must end in .keras")
    if out.exists():
        raise ValueError(f"--out {out}: already exists; give a new file name")
    if not (pathlib.Path(args.bundle) / "saved_model.pb").is_file():
        raise ValueError(f"{args.bundle}: no saved_model.pb; expected a bundle version folder such as "
                         "saved_models/default/4")
    vae = open_bundle_vae(args.bundle)
    out.parent.mkdir(parents=True, exist_ok=True)
    vae.save(out)
    written, bundled = vae_content_hash(musicvae.load(out)), vae_content_hash(vae)
    if written != bundled:
        out.unlink()
        raise RuntimeError(f"{out}: the saved MusicVAE hashes to {written}, the bundle's to {bundled}")
    options = json.dumps({"name": "auto", "vae": str(out), "quantize": "beats", "track": "MELODY",
                          "split": "pop909", "encode_rests": True})  # the shipped model's POP909 latents
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): the MusicVAE {vae.get_config().get('config_name')} of "
          f"{args.bundle}, content hash {written}")
    print(f"next: latents as the shipped model's, from POP909's MIDI folder: tfds build lakh_midi --imports "
          f"tfds_lakh --manual_dir POP909_MIDI_DIR --config '{options}' (Lakh MIDI on many workers: "
          f"tfds_lakh/README.md); then symdiff train --data tfds:lakh_midi/latents_... --vae {out}")
    return 0
