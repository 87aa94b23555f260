"""`LatentDataConfig`: how per-melody latents become training windows (the `latents:` section of a config file).

The steps it controls are described in `symdiff_tf.data.latent_windows`; the inverse (`fill`) in
`symdiff_tf.data.scaler`.
"""
import dataclasses

# original.md §1.5: `slice-mel-512.pkl`, the 42 dims of cat-mel_2bar_big kept by the paper.
PAPER_KEPT_DIMS = (
    12, 14, 24, 36, 41, 62, 73, 135, 154, 156, 167, 175, 177, 182, 187, 199, 202, 211, 216, 226, 245, 248,
    262, 266, 270, 283, 294, 298, 345, 367, 370, 371, 377, 384, 387, 458, 471, 473, 476, 480, 482, 483,
)
Z_MODES = ("sample", "fixed", "mu")
FILLS = ("noise", "zeros")
TRANSPOSED_SPLIT = "train_transposed"  # lakh_midi's split of the train melodies transposed (its `transpose` option)


@dataclasses.dataclass
class LatentDataConfig:
    """How per-melody latents become training windows (YAML section `latents`).

    Args:
        window_chunks: chunks per window (2 bars each): 32 = 64 bars as the paper, 16 = 32 bars.
        stride: chunks between consecutive window starts (the original: 1).
        allow_rests: keep windows that hold rest chunks (zero latents). The original meant to drop them.
        original_window_bugs: reproduce the original's window off-by-one and its blind spot for a rest at
            position 0 (original.md §1.4; `symdiff_tf.melody.windows`). Default False.
        z_mode: "sample" (z ~ N(mu, sigma) afresh each epoch, default), "fixed" (one seeded sample per chunk,
            as the original's stored z), or "mu".
        kept_dims: explicit latent dims to keep (e.g. `PAPER_KEPT_DIMS`); None selects by `kept_top_k` or
            `sigma_threshold`.
        kept_top_k: keep the k dims with the smallest mean posterior sigma over train (the most used ones): a
            rule that transfers across VAEs. None: use `sigma_threshold`. `symdiff kept-dims` reports what each
            choice keeps and what it costs in reconstruction.
        sigma_threshold: keep dims whose mean posterior sigma over train is below this (paper: 1.0).
        fill: what the inverse puts in the dropped dims: "noise" (N(0, 1), original) or "zeros".
        shuffle: shuffle windows (reshuffled every epoch, seeded). Off by default: the trainer's stream
            (`symdiff_tf.data.stream`) wants a fixed order and shuffles per epoch itself (so that it can resume
            at a data position).
        seed: seed for z sampling, shuffling and the fixed sample.
        transposed: train on the `train` split plus `train_transposed` (every train melody transposed as a whole
            by each shift of the dataset's `transpose` option, `tfds_lakh`); the scaler is fit on both, kept dims
            still come from train's `mean_sigma_train`. Off by default (the paper trains on train only).
    """

    window_chunks: int = 32
    stride: int = 1
    allow_rests: bool = False
    original_window_bugs: bool = False
    z_mode: str = "sample"
    kept_dims: tuple[int, ...] | None = None
    kept_top_k: int | None = None
    sigma_threshold: float = 1.0
    fill: str = "noise"
    shuffle: bool = False
    seed: int = 0
    transposed: bool = False

    def __post_init__(self):
        if self.kept_dims is not None:  # a YAML list: hashable and comparable like the tuple
            self.kept_dims = tuple(int(d) for d in self.kept_dims)
        if self.z_mode not in Z_MODES:
            raise ValueError(f"latents.z_mode={self.z_mode!r}: expected one of {Z_MODES}")
        if self.fill not in FILLS:
            raise ValueError(f"latents.fill={self.fill!r}: expected one of {FILLS}")
        if self.window_chunks < 1 or self.stride < 1:
            raise ValueError(f"latents: window_chunks and stride must be >= 1, got {self.window_chunks}, "
                             f"{self.stride}")


def training_split(builder, config: LatentDataConfig) -> str:
    """The TFDS split the model trains on: "train", or "train+train_transposed" when `config.transposed`.

    ValueError naming the dataset when `config.transposed` is set and `builder` (a built `lakh_midi` latent
    config) has no `train_transposed` split."""
    if not config.transposed:
        return "train"
    if TRANSPOSED_SPLIT not in builder.info.splits:
        raise ValueError(f"{builder.data_dir}: latents.transposed is set but the dataset has no {TRANSPOSED_SPLIT} "
                         f"split (built: {', '.join(sorted(builder.info.splits))}); build it with the lakh_midi "
                         "config option transpose, e.g. \"transpose\": [-6, 5] (tfds_lakh/README.md)")
    return f"train+{TRANSPOSED_SPLIT}"


def fixed_windows_config(config: LatentDataConfig) -> LatentDataConfig:
    """`config` for windows that are the same on every pass (eval data, `symdiff evaluate`): z_mode "fixed"
    (one seeded draw per chunk) unless "mu", and no shuffling. Fit on train, it gives the same `LatentScaler` as
    `config` (min/max of "sample" and "fixed" both come from the seeded draw)."""
    return dataclasses.replace(config, z_mode="mu" if config.z_mode == "mu" else "fixed", shuffle=False)

