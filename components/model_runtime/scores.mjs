// How well the model explains an image, from the encoder's and decoder's outputs: the same sums as
// vae.networks.objectives.negative_elbo_at_mean (nats) and vae.analysis.atlas's reconstruction error (per-pixel MSE).
// `decoded` is what decoder.mjs gives ({ image, logits }); images and logits are channels-last.

const EPS = 1e-7;  // probabilities are kept this far from 0 and 1, so a log never reaches -infinity

/** -log p(x | z): binary cross-entropy against x, summed: from the logits in PyTorch's stable form when
 * the decoder gives logits, else from its probabilities. */
export function reconstructionNll({ image, logits }, x) {
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    if (logits) {
      const l = logits[i];
      total += Math.max(l, 0) - l * x[i] + Math.log1p(Math.exp(-Math.abs(l)));
    } else {
      const p = Math.min(1 - EPS, Math.max(EPS, image[i]));
      total -= x[i] * Math.log(p) + (1 - x[i]) * Math.log1p(-p);
    }
  }
  return total;
}

/** KL(N(mu, exp(logvar)) || N(0, I)), summed over dimensions. */
export function klToPrior(mu, logvar) {
  let total = 0;
  for (let j = 0; j < mu.length; j++) total += 0.5 * (mu[j] * mu[j] + Math.exp(logvar[j]) - 1 - logvar[j]);
  return total;
}

/** -ELBO at the posterior mean: -log p(x | mu) + KL(q(z|x) || p(z)), with `decoded` decoded from mu. */
export function negativeElboAtMean(decoded, x, mu, logvar) {
  return reconstructionNll(decoded, x) + klToPrior(mu, logvar);
}

/** Mean squared error between the decoded image and x. */
export function reconstructionError({ image }, x) {
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const d = image[i] - x[i];
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
