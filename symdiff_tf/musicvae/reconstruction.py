"""How well decoded chunks rebuild their targets, judged by notes rather than by tokens.

Token accuracy is dominated by the "no event" class (about 60 % of POP909 tokens): a decoder that outputs only
holds and note-offs scores about 0.55. These counts judge the notes instead. Inputs are token chunks
`[batch, 32]` int (classes 0..89; class >= 2 is a note onset of pitch class - 2 + 21) as tensors or numpy.

- note-onset precision / recall / F1: an onset is (position in the chunk, pitch); a decoded onset is right when
  the target has an onset of the same pitch at the same step;
- exact chunks: the share of chunks whose 32 tokens all equal the target's.
"""
import tensorflow as tf

from symdiff_tf.melody.chunks import CLASS_FIRST_PITCH


def reconstruction_counts(decoded, target) -> dict:
    """Sums over the batch: `{"tokens_right", "tokens", "onsets_right", "onsets_decoded", "onsets_target",
    "chunks_exact", "chunks"}` as float32 scalars (sums, so that batches add up before `reconstruction_scores`)."""
    decoded = tf.cast(decoded, tf.int32)
    target = tf.cast(target, tf.int32)
    equal = tf.equal(decoded, target)
    target_onset = target >= CLASS_FIRST_PITCH

    def total(mask):
        return tf.reduce_sum(tf.cast(mask, tf.float32))

    return {"tokens_right": total(equal), "tokens": tf.cast(tf.size(target), tf.float32),
            "onsets_right": total(equal & target_onset),
            "onsets_decoded": total(decoded >= CLASS_FIRST_PITCH), "onsets_target": total(target_onset),
            "chunks_exact": total(tf.reduce_all(equal, axis=-1)), "chunks": tf.cast(tf.shape(target)[0], tf.float32)}


def reconstruction_scores(counts: dict) -> dict:
    """Token accuracy, note-onset precision / recall / F1 and the exact-chunk share from summed counts.

    An empty side scores 1.0 when the other is empty too (nothing to find and nothing found), else 0.0.
    """
    counts = {key: float(value) for key, value in counts.items()}

    def ratio(numerator, denominator, empty):
        return numerator / denominator if denominator else empty

    precision = ratio(counts["onsets_right"], counts["onsets_decoded"], float(counts["onsets_target"] == 0))
    recall = ratio(counts["onsets_right"], counts["onsets_target"], float(counts["onsets_decoded"] == 0))
    f1 = ratio(2 * counts["onsets_right"], counts["onsets_decoded"] + counts["onsets_target"], 1.0)
    return {"token_accuracy": ratio(counts["tokens_right"], counts["tokens"], 0.0),
            "note_precision": precision, "note_recall": recall, "note_f1": f1,
            "exact_chunks": ratio(counts["chunks_exact"], counts["chunks"], 0.0)}
