// How well the model explains an image, from the encoder's and decoder's outputs: the same sums as
// vae.objectives.negative_elbo_at_mean (nats) and vae.atlas's reconstruction error (per-pixel MSE).
// Images and logits are channels-last, element for element.

/** -log p(x | z): binary cross-entropy of the logits against x, summed (PyTorch's stable form). */
export function reconstructionNll(logits, x) {
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const l = logits[i];
    total += Math.max(l, 0) - l * x[i] + Math.log1p(Math.exp(-Math.abs(l)));
  }
  return total;
}

/** KL(N(mu, exp(logvar)) || N(0, I)), summed over dimensions. */
export function klToPrior(mu, logvar) {
  let total = 0;
  for (let j = 0; j < mu.length; j++) total += 0.5 * (mu[j] * mu[j] + Math.exp(logvar[j]) - 1 - logvar[j]);
  return total;
}

/** -ELBO at the posterior mean: -log p(x | mu) + KL(q(z|x) || p(z)), with logits decoded from mu. */
export function negativeElboAtMean(logits, x, mu, logvar) {
  return reconstructionNll(logits, x) + klToPrior(mu, logvar);
}

/** Mean squared error between the decoded means sigmoid(logits) and x. */
export function reconstructionError(logits, x) {
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const d = 1 / (1 + Math.exp(-logits[i])) - x[i];
    total += d * d;
  }
  return total / x.length;
}

/** Percent of the ascending `sorted` values that are <= value (0 .. 100). */
export function percentileOf(sorted, value) {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return sorted.length ? (100 * lo) / sorted.length : 0;
}
