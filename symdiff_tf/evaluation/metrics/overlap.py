"""Overlapping area (OA) of two Gaussian densities: the building block of the framewise metric (paper Eq. 9).

OA(p, q) = ∫ min(p(x), q(x)) dx, in [0, 1]; 1 for identical Gaussians.

`overlapping_area` is exact in every case. `overlapping_area_original` is the released code's formula, kept for
comparison with the paper's numbers: it is only right when the variances differ clearly, and gives OA ≈ 1 for
equal variances whatever the means (N(60, 4) vs N(64, 4): 1.0 instead of 0.3173) and misses the far tail
when the means are close (N(0, 1) vs N(0, 4): 0.8387 instead of 0.6773), see
`../shared/docs/original.md` §4.2 and docs/metrics.md.
"""
import math

# Variances closer than this (relative) are treated as equal: one crossing, at the midpoint of the means.
_EQUAL_VARIANCE_RTOL = 1e-12
# The original added this to both variances inside its formula.
_ORIGINAL_EPSILON = 1e-6


def _check(mean1, var1, mean2, var2):
    values = [float(v) for v in (mean1, var1, mean2, var2)]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"overlapping_area: means and variances must be finite, got {values}")
    if values[1] < 0 or values[3] < 0:
        raise ValueError(f"overlapping_area: variances must be >= 0, got {values[1]} and {values[3]}")
    return values


def _normal_cdf(x: float, mean: float, var: float) -> float:
    return 0.5 * (1.0 + math.erf((x - mean) / math.sqrt(2.0 * var)))


def overlapping_area(mean1, var1, mean2, var2) -> float:
    """Exact overlapping area of N(mean1, var1) and N(mean2, var2), a float in [0, 1].

    Args:
        mean1, var1: mean and variance (not standard deviation) of the first Gaussian.
        mean2, var2: the same for the second.

    Cases:
        - Both variances > 0 and different: the densities cross at two points c_lo < c_hi; between them the
          narrower density is the larger one, so OA = 1 − (F_narrow(c_hi) − F_narrow(c_lo))
          + (F_wide(c_hi) − F_wide(c_lo)), with F the normal CDF. (The paper's Eq. 9 keeps one crossing only,
          which ignores the far tail.)
        - Equal variances v: one crossing at the midpoint, OA = erfc(|mean1 − mean2| / (2·sqrt(2·v))).
          N(60, 4) vs N(64, 4) gives 0.3173.
        - Zero variances are point masses, the limit of a vanishing variance: two point masses give 1 if their
          means are equal and 0 otherwise; a point mass against a Gaussian with variance > 0 gives 0 (they share
          no probability mass). Callers that want quantised data (integer pitches, durations on a sixteenth-note
          grid) to count as overlapping floor the variances first (`min_variance` in
          `symdiff_tf.evaluation.metrics.framewise`).

    Raises:
        ValueError: for a negative variance or a non-finite argument.
    """
    mean1, var1, mean2, var2 = _check(mean1, var1, mean2, var2)
    if var1 == 0.0 and var2 == 0.0:
        return 1.0 if mean1 == mean2 else 0.0
    if var1 == 0.0 or var2 == 0.0:
        return 0.0
    if var1 > var2:
        mean1, var1, mean2, var2 = mean2, var2, mean1, var1
    narrow_mean, narrow_var, wide_mean, wide_var = mean1, var1, mean2, var2
    var_gap = wide_var - narrow_var
    if var_gap <= _EQUAL_VARIANCE_RTOL * wide_var:
        return math.erfc(abs(narrow_mean - wide_mean) / (2.0 * math.sqrt(2.0 * narrow_var)))
    # Crossings: var_gap·x² + 2·half_b·x + c = 0, from equating the two log densities.
    log_ratio = math.log(wide_var / narrow_var)
    half_b = -(wide_var * narrow_mean - narrow_var * wide_mean)
    c = wide_var * narrow_mean**2 - narrow_var * wide_mean**2 - narrow_var * wide_var * log_ratio
    root_disc = math.sqrt(narrow_var * wide_var * ((narrow_mean - wide_mean) ** 2 + var_gap * log_ratio))
    q = -half_b - math.copysign(root_disc, half_b)  # no cancellation: the two terms share a sign
    crossing_lo, crossing_hi = sorted((q / var_gap, c / q))
    narrow_inside = _normal_cdf(crossing_hi, narrow_mean, narrow_var) - _normal_cdf(crossing_lo, narrow_mean, narrow_var)
    wide_inside = _normal_cdf(crossing_hi, wide_mean, wide_var) - _normal_cdf(crossing_lo, wide_mean, wide_var)
    return min(1.0, max(0.0, 1.0 - narrow_inside + wide_inside))


def overlapping_area_original(mean1, var1, mean2, var2) -> float:
    """The released code's OA formula (`utils/metrics.overlapping_area`), for reproducing the paper's numbers.

    Orders the Gaussians so that `a` has the smaller mean, takes one crossing c (with 1e-6 added to the
    variances) and returns 1 − ½·erf((c − μa)/√(2(va + 1e-6))) + ½·erf((c − μb)/√(2(vb + 1e-6))).
    Wrong whenever the variances are equal or both zero (c becomes 0 and OA ≈ 1 whatever the means), and, as it
    keeps one crossing only, too high when the means are close and the variances differ a lot (N(0, 1) vs
    N(0, 4): 0.8387 instead of 0.6773); otherwise within about ±0.002. Same arguments as `overlapping_area`.
    """
    mean1, var1, mean2, var2 = _check(mean1, var1, mean2, var2)
    if mean2 < mean1:
        mean1, var1, mean2, var2 = mean2, var2, mean1, var1
    eps = _ORIGINAL_EPSILON
    log_term = math.log(math.sqrt(var1 + eps) / math.sqrt(var2 + eps))
    root = math.sqrt((mean1 - mean2) ** 2 + 2.0 * (var1 - var2) * log_term)
    crossing = (mean2 * var1 - math.sqrt(var2) * (mean1 * math.sqrt(var2) + math.sqrt(var1) * root)) / (
        var1 - var2 + eps
    )
    return (
        1.0
        - 0.5 * math.erf((crossing - mean1) / (math.sqrt(2.0) * math.sqrt(var1 + eps)))
        + 0.5 * math.erf((crossing - mean2) / (math.sqrt(2.0) * math.sqrt(var2 + eps)))
    )


OVERLAP_FORMULAS = {"exact": overlapping_area, "original": overlapping_area_original}


def overlap_function(formula: str):
    """The OA function for `formula`: "exact" (default everywhere) or "original" (the released code's)."""
    try:
        return OVERLAP_FORMULAS[formula]
    except KeyError:
        raise ValueError(f"formula={formula!r}: expected one of {sorted(OVERLAP_FORMULAS)}") from None
