"""Figure 2 (piano rolls of the rows, one example at a time) and Figure 3 (metrics over the refinement steps).

matplotlib with the Agg backend; piano rolls via `symdiff_tf.melody.pianoroll`.
"""
import numpy as np

from symdiff_tf.melody.pianoroll import save_pianoroll_grid

CURVE_METRICS = ("fd", "mmd", "pitch_consistency", "pitch_variance", "duration_consistency", "duration_variance")


def save_row_pianorolls(path, tokens_by_row: dict, index: int, generated_chunks=None, title: str | None = None):
    """One example (window `index`) of every row, stacked as in the paper's Figure 2.

    Args:
        tokens_by_row: {row: tokens `[N, 32, 32]`}.
        generated_chunks: bool `[32]` shaded in the generated rows (the infilled gap), or None.
    """
    rows = list(tokens_by_row)
    shade = [None if row in ("train", "test") or generated_chunks is None else generated_chunks for row in rows]
    return save_pianoroll_grid(path, [tokens_by_row[row][index] for row in rows],
                               rests=shade if generated_chunks is not None else None, titles=rows, title=title,
                               columns=1)


def save_curves(path, curves: dict) -> str:
    """Figure 3: each metric of `CURVE_METRICS` against the refinement steps done, one line per setting.

    curves: {setting: {"steps": [K], metric: [K], ...}}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(12, 6), squeeze=False)
    for ax, name in zip(axes.flat, CURVE_METRICS):
        for setting, curve in curves.items():
            ax.plot(np.asarray(curve["steps"]), np.asarray(curve[name], np.float64), marker="o", ms=3,
                    label=setting)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("refinement steps done")
        values = np.concatenate([np.asarray(curve[name], np.float64) for curve in curves.values()])
        if name in ("fd", "mmd") and np.all(values > 0):
            ax.set_yscale("log")
    axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(str(path), dpi=100)
    plt.close(figure)
    return str(path)
