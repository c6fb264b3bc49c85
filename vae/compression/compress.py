"""The VAE as a codec: lossless bits-back coding of binarized images, and lossy coding of the latent mean.

Lossless (BB-ANS, Townsend, Bird and Barber 2019): for each image, a latent z is *decoded* from the
ANS stack under the posterior q(z|x) (taking bits off the stack), x is encoded under p(x|z) and z under
the prior. The bits taken off are given back when the decoder re-encodes z under q(z|x), so each image
costs about -ELBO. With k > 1 (Monte Carlo bits-back, Ruan et al. 2021) k latents and an index j
weighted by p(x, z_j) / q(z_j|x) are decoded; the cost is about -L_k, the IWAE bound.

The latent is discretized into 2^precision buckets of equal prior mass, so the prior codes each
bucket in exactly `precision` bits and the posterior is a categorical table over the same buckets
(constriction's quantized Gaussian bins uniformly in z, which wastes bits in the prior's tails).

Every coding distribution must be computed bit for bit alike by encoder and decoder: images are coded
`chains` at a time (the network always sees batches of exactly that many rows, padding included), on a
fixed number of threads, and probabilities are rounded to the coder's 24-bit precision before use.

Lossy: the encoder's mean, bucketed at a chosen precision, coded under the prior (`precision` bits per
dimension); the decoder's mean image is the reconstruction. An AE's or WAE's codes were never held to the
prior, so their buckets split a normal scaled to the codes' spread (recorded in the header).

The entropy coder is constriction's ANS stack (a maintained, tested library), not one of our own.
The model is touched only in `posterior` and `likelihood`.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import Tensor

from vae.datasets.data import binarize
from vae.models.interface import Model, as_model
from vae.networks.model import VAE

MAGIC = b"LXVC"
VERSION = 1
LOSSLESS, LOSSY = 0, 1
MODES = {LOSSLESS: "lossless", LOSSY: "lossy"}
DEFAULT_PRECISION = 10  # bits per latent dimension of the buckets (lossless)
LOSSY_PRECISIONS = (1, 2, 3, 4, 5, 6, 8)
PRECISION_RANGE = (1, 16)
MAX_K = 64
CHAINS = 64  # images coded side by side: the batch every network pass sees
THREADS = 1  # torch threads of every network pass while coding
PROB_BITS = 24  # constriction's probability precision; probabilities are rounded to it before use
SEED = 0  # of the initial words the first images' latents are decoded from
HEADER = struct.Struct("<4sBBBHHIHHHHH32sIII")  # see Header
SCALE_STEP = 16  # the bucket scale is stored in sixteenths
_model = constriction.stream.model


class CodecError(ValueError):
    """A file that is not ours, is damaged or truncated, or belongs to another model; or input we cannot code."""


@dataclass(frozen=True)
class Header:
    mode: int  # LOSSLESS or LOSSY
    precision: int  # bits per latent dimension
    k: int  # importance samples (lossless; 1 = plain BB-ANS)
    chains: int  # images coded side by side (lossless)
    count: int  # images
    shape: tuple[int, int, int]  # C, H, W
    classes: int  # a conditional model's class count (each label is coded), else 0
    scale: int  # the buckets' normal's standard deviation, in sixteenths (16: the prior itself)
    weights: str  # sha256 of the model's weights file, hex
    kept: int  # initial words left untouched at the bottom of the stack (not stored)
    words: int  # payload words (uint32)
    crc: int  # crc32 of the payload

    def pack(self) -> bytes:
        return HEADER.pack(MAGIC, VERSION, self.mode, self.precision, self.k, self.chains, self.count, *self.shape,
                           self.classes, self.scale, bytes.fromhex(self.weights), self.kept, self.words, self.crc)

    @property
    def describe(self) -> str:
        extra = f", k={self.k}, {self.chains} chains" if self.mode == LOSSLESS else ""
        return (f"{self.count} image(s) of {'x'.join(map(str, self.shape))}, {MODES[self.mode]}, "
                f"precision {self.precision}{extra}")


@dataclass
class Decoded:
    header: Header
    images: Tensor  # (N, C, H, W) float in [0, 1]
    labels: Tensor | None


_THREADS_LOCK = threading.Lock()  # torch's thread count is global: two sessions of the app must not interleave


@contextmanager
def fixed_threads() -> Iterator[None]:
    """torch on THREADS threads for a network pass, the caller's count restored after."""
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(THREADS)
        try:
            yield
        finally:
            torch.set_num_threads(before)


# --- the model, touched here only ------------------------------------------------------------------------

def has_posterior(model: Model | VAE) -> bool:
    return as_model(model).posterior


def classes(model: Model | VAE) -> int:
    m = as_model(model)
    return m.num_classes if m.conditional else 0


def latent_dim(model: Model | VAE) -> int:
    return as_model(model).latent_dim


def image_shape(model: Model | VAE) -> tuple[int, int, int]:
    return tuple(as_model(model).image_shape)


@torch.no_grad()
def posterior(model: VAE, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of q(z|x), as float64."""
    mu, logvar = as_model(model).encode(x, y)
    return mu.double(), None if logvar is None else torch.exp(0.5 * logvar.double())


@torch.no_grad()
def likelihood(model: VAE, z: Tensor, y: Tensor | None) -> Tensor:
    """p(x = 1 | z) per pixel, float64, flattened per image."""
    logits = as_model(model).logits(z.float(), y)
    return torch.sigmoid(logits.double()).flatten(1)


# --- buckets of equal prior mass ------------------------------------------------------------------------

@dataclass(frozen=True)
class Buckets:
    """2^precision intervals of the standard normal, each of prior mass 2^-precision; a bucket's code
    is its median (the normal quantile at its middle mass)."""

    precision: int
    scale: float = 1.0  # of the normal whose mass the buckets split evenly: the prior N(0, 1) unless told

    @property
    def count(self) -> int:
        return 1 << self.precision

    def edges(self) -> Tensor:
        mass = torch.arange(self.count + 1, dtype=torch.float64) / self.count
        return self.scale * torch.special.ndtri(mass)  # -inf and +inf at the ends

    def centres(self) -> Tensor:
        return self.scale * torch.special.ndtri((torch.arange(self.count, dtype=torch.float64) + 0.5) / self.count)

    def index(self, z: Tensor) -> Tensor:
        """The bucket holding each value of z."""
        return (torch.special.ndtr(z.double() / self.scale) * self.count).long().clamp_(0, self.count - 1)

    def masses(self, mu: Tensor, sigma: Tensor) -> Tensor:
        """q's mass on every bucket: (..., count), rounded to the coder's precision."""
        cdf = torch.special.ndtr((self.edges() - mu[..., None]) / sigma[..., None])
        return quantized(cdf.diff(dim=-1))


def quantized(p: Tensor) -> Tensor:
    """Probabilities rounded to multiples of 2^-PROB_BITS, kept inside (0, 1)."""
    scale = float(1 << PROB_BITS)
    return (p * scale).round_().clamp_(1.0, scale - 1.0) / scale


# --- lossless: bits-back ---------------------------------------------------------------------------------

class BitsBack:
    """The coding steps of one chained batch of images, shared by encoder and decoder so that both compute
    the same distributions from the same batches."""

    def __init__(self, model: VAE, precision: int, k: int, chains: int) -> None:
        self.model, self.k, self.chains = model, k, chains
        self.buckets = Buckets(precision)
        self.centres = self.buckets.centres().float()
        self.dim = latent_dim(model)
        self.classes = classes(model)
        self.shape = image_shape(model)
        self.cat = _model.Categorical(perfect=False)
        self.bernoulli = _model.Bernoulli(perfect=False)
        self.prior = _model.Uniform(self.buckets.count)

    def padded(self, rows: Tensor) -> Tensor:
        """rows padded with zeros to `chains` rows (the fixed batch of every network pass)."""
        pad = self.chains - len(rows)
        return torch.cat([rows, rows.new_zeros(pad, *rows.shape[1:])]) if pad else rows

    def labels(self, y: Tensor | None) -> Tensor | None:
        return None if y is None else self.padded(y)

    def q_masses(self, x: Tensor, y: Tensor | None) -> Tensor:
        n = len(x)
        with fixed_threads():
            mu, sigma = posterior(self.model, self.padded(x), self.labels(y))
        return self.buckets.masses(mu[:n], sigma[:n])  # (n, D, B)

    def p_x(self, z_index: Tensor, y: Tensor | None) -> Tensor:
        n = len(z_index)
        with fixed_threads():
            p = likelihood(self.model, self.padded(self.centres[z_index]), self.labels(y))
        return quantized(p[:n])  # (n, pixels)

    def log_weights(self, x: Tensor, z_index: Tensor, q: Tensor, y: Tensor | None) -> Tensor:
        """log p(x|z_i) + log p(z_i) - log q(z_i|x) for the k latents of each image: (n, k), float64.
        The decoder network sees k batches of `chains` rows, sample-major."""
        n, k = z_index.shape[:2]
        with fixed_threads():
            p = torch.stack([quantized(likelihood(self.model, self.padded(self.centres[z_index[:, i]]),
                                                  self.labels(y))[:n]) for i in range(k)], dim=1)
        log_px = torch.where(x.flatten(1)[:, None] > 0, p, 1 - p).log_().sum(-1)
        log_q = q[:, None].expand(n, k, *q.shape[1:]).gather(-1, z_index[..., None]).squeeze(-1).log().sum(-1)
        return log_px - self.dim * self.buckets.precision * np.log(2.0) - log_q

    def encode(self, coder, x: Tensor, y: Tensor | None) -> None:
        n, k, count = len(x), self.k, self.buckets.count
        q = self.q_masses(x, y)
        z = coder.decode(self.cat, _table(q[:, None].expand(n, k, self.dim, count)))
        z = torch.from_numpy(z).long().reshape(n, k, self.dim)
        if k > 1:
            w = quantized(torch.softmax(self.log_weights(x, z, q, y), dim=1))
            j = torch.from_numpy(coder.decode(self.cat, _np(w))).long()
            others = _others(k, j)
            coder.encode_reverse(_sym(z.gather(1, others[..., None].expand(-1, -1, self.dim))), self.cat,
                                 _table(q[:, None].expand(n, k - 1, self.dim, count)))
            zj = z[torch.arange(n), j]
        else:
            zj = z[:, 0]
        coder.encode_reverse(_sym(x.flatten(1)), self.bernoulli, _np(self.p_x(zj, y)).ravel())
        coder.encode_reverse(_sym(zj), self.prior)
        if k > 1:
            coder.encode_reverse(_sym(j), _model.Uniform(k))
        if self.classes:
            coder.encode_reverse(_sym(y), _model.Uniform(self.classes))

    def decode(self, coder, n: int) -> tuple[Tensor, Tensor | None]:
        k, count = self.k, self.buckets.count
        y = torch.from_numpy(coder.decode(_model.Uniform(self.classes), n)).long() if self.classes else None
        j = torch.from_numpy(coder.decode(_model.Uniform(k), n)).long() if k > 1 else torch.zeros(n, dtype=torch.long)
        zj = torch.from_numpy(coder.decode(self.prior, n * self.dim)).long().reshape(n, self.dim)
        p = self.p_x(zj, y)
        x = torch.from_numpy(coder.decode(self.bernoulli, _np(p).ravel())).float().reshape(n, *self.shape)
        q = self.q_masses(x, y)
        z = zj[:, None].repeat(1, k, 1)
        if k > 1:
            others = _others(k, j)
            zo = coder.decode(self.cat, _table(q[:, None].expand(n, k - 1, self.dim, count)))
            z.scatter_(1, others[..., None].expand(-1, -1, self.dim),
                       torch.from_numpy(zo).long().reshape(n, k - 1, self.dim))
            w = quantized(torch.softmax(self.log_weights(x, z, q, y), dim=1))
            coder.encode_reverse(_sym(j), self.cat, _np(w))
        coder.encode_reverse(_sym(z), self.cat, _table(q[:, None].expand(n, k, self.dim, count)))
        return x, y


def _others(k: int, j: Tensor) -> Tensor:
    """For each image, the sample indices other than j: (n, k - 1)."""
    every = torch.arange(k).expand(len(j), k)
    return every[every != j[:, None]].reshape(len(j), k - 1)


def _np(p: Tensor) -> np.ndarray:
    return np.ascontiguousarray(p.numpy())


def _table(q: Tensor) -> np.ndarray:
    return _np(q.reshape(-1, q.shape[-1]))


def _sym(t: Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.reshape(-1).numpy().astype(np.int32))


def schedule(count: int, chains: int, k: int) -> list[tuple[slice, int]]:
    """The coding steps: `chains` images at a time, each step with its number of samples. A weighted code
    (k > 1) pops k latents per image, k times what plain BB-ANS pops: its first k steps are plain BB-ANS, which
    leave about as many bits on the stack as the weighted steps then take off, so the weighted code borrows
    a plain code's initial bits, not k times as many."""
    return [(slice(s, min(s + chains, count)), k if s >= k * chains else 1) for s in range(0, count, chains)]


def initial_words(model: VAE, precision: int, k: int, chains: int) -> np.ndarray:
    """The words the first batch's latents are decoded from: fixed pseudo-random bits, plenty for
    chains x k x D latents (each takes at most PROB_BITS bits) and the k-way index."""
    words = (chains * (k * latent_dim(model) * PROB_BITS + PROB_BITS)) // 32 + 4
    return np.random.default_rng(SEED).integers(1, 2**32, size=words, dtype=np.uint32)


def binarized(images: Tensor, seed: int | None = None) -> Tensor:
    """Images drawn once to 0/1 pixels (Bernoulli of each intensity) with a fixed seed, the whole set in one
    draw: the binarized test set the lossless figures are measured on (seed 0, as `evaluate` uses)."""
    from vae.training.evaluate import BINARIZE_SEED

    return binarize(images, "dynamic", torch.Generator().manual_seed(BINARIZE_SEED if seed is None else seed))


def _check_binary(images: Tensor) -> None:
    if not ((images == 0) | (images == 1)).all():
        raise CodecError("lossless coding is for binarized images (every pixel 0 or 1); "
                         "binarize them, or code them lossily")


def no_bits_back(model: VAE) -> str | None:
    """Why this model has no lossless (bits-back) code, or None when it has one."""
    m = as_model(model)
    if not m.posterior:
        return (f"this {m.kind} encodes each image to one point, with no posterior q(z|x) to take bits back from: "
                "it has no lossless code (lossy works)")
    if m.likelihood:
        return f"{m.likelihood}, so no pixel probabilities to code with: it has no lossless code (lossy works)"
    return None


def _check_model_input(model: VAE, images: Tensor, labels: Tensor | None) -> None:
    if images.dim() != 4 or tuple(images.shape[1:]) != image_shape(model):
        raise CodecError(f"images of shape {tuple(images.shape[1:])}; this model codes "
                         f"{'x'.join(map(str, image_shape(model)))}")
    if len(images) == 0:
        raise CodecError("no images to code")
    if classes(model) and (labels is None or len(labels) != len(images)):
        raise CodecError("this model is conditional: every image needs its class label")


def compress_lossless(model: VAE, weights: str, images: Tensor, labels: Tensor | None = None,
                      precision: int = DEFAULT_PRECISION, k: int = 1, chains: int = CHAINS,
                      check: bool = True) -> bytes:
    """Binarized images (N, C, H, W) chained through one ANS stack, `chains` at a time; with check (the
    default) the round trip is checked before the bytes are returned."""
    why = no_bits_back(model)
    if why:
        raise CodecError(why)
    _check_model_input(model, images, labels)
    _check_binary(images)
    _check_settings(precision, k, chains)
    labels = labels.long() if classes(model) else None
    coder = constriction.stream.stack.AnsCoder(initial_words(model, precision, k, chains))
    coders = {n: BitsBack(model, precision, n, chains) for n in {1, k}}
    for part, samples in schedule(len(images), chains, k):
        coders[samples].encode(coder, images[part].float(), None if labels is None else labels[part])
    words = coder.get_compressed()
    seed = initial_words(model, precision, k, chains)
    kept = _common_prefix(words, seed)
    payload = words[kept:]
    header = Header(LOSSLESS, precision, k, chains, len(images), image_shape(model), classes(model),
                    SCALE_STEP, weights, kept, len(payload), zlib.crc32(payload.tobytes()))
    data = header.pack() + payload.astype("<u4").tobytes()
    if check and not torch.equal(decompress(model, weights, data).images, images.float()):
        raise CodecError("the lossless round trip failed: the decoder did not see the encoder's distributions")
    return data


def initial_bits(model: VAE, data: bytes) -> int:
    """Bits of a lossless file that are initial words the first images' latents were decoded from: what
    chaining borrows once (whole words; 0 for a lossy file)."""
    header, _ = read_header(data)
    if header.mode != LOSSLESS:
        return 0
    return 32 * (len(initial_words(model, header.precision, header.k, header.chains)) - header.kept)


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    differ = np.nonzero(a[:n] != b[:n])[0]
    return int(differ[0]) if len(differ) else n


def _check_settings(precision: int, k: int, chains: int) -> None:
    lo, hi = PRECISION_RANGE
    if not lo <= precision <= hi:
        raise CodecError(f"precision must be {lo}..{hi} bits, got {precision}")
    if not 1 <= k <= MAX_K:
        raise CodecError(f"k must be 1..{MAX_K}, got {k}")
    if not 1 <= chains <= 4096:
        raise CodecError(f"chains must be 1..4096, got {chains}")


def _decompress_lossless(model: VAE, header: Header, payload: np.ndarray) -> Decoded:
    seed = initial_words(model, header.precision, header.k, header.chains)
    if header.kept > len(seed):
        raise CodecError("damaged: the header's initial word count is impossible")
    coder = constriction.stream.stack.AnsCoder(np.concatenate([seed[:header.kept], payload]))
    coders = {n: BitsBack(model, header.precision, n, header.chains) for n in {1, header.k}}
    images, labels = [], []
    try:
        for part, samples in reversed(schedule(header.count, header.chains, header.k)):
            x, y = coders[samples].decode(coder, part.stop - part.start)
            images.append(x)
            labels.append(y)
        intact = np.array_equal(coder.get_compressed(), seed)
    except (ValueError, RuntimeError, AssertionError) as err:
        raise CodecError(f"damaged: the coded data does not decode ({err})") from err
    if not intact:
        raise CodecError("damaged: decoding did not end where encoding began")
    y = torch.cat(labels[::-1]) if header.classes else None
    return Decoded(header, torch.cat(images[::-1]), y)


# --- lossy: the quantized latent mean --------------------------------------------------------------------

def latent_means(model: VAE, images: Tensor, labels: Tensor | None, batch_size: int = 500) -> Tensor:
    """The encoder's mean for each image: (N, D)."""
    y = labels.long() if classes(model) else None
    return torch.cat([posterior(model, images[s:s + batch_size].float(), None if y is None else y[s:s + batch_size])[0]
                      for s in range(0, len(images), batch_size)])


def lossy_scale(model: VAE, mu: Tensor) -> int:
    """The buckets' scale for these codes, in sixteenths: the prior's (1) for a model with a posterior, whose
    codes were fitted to it; for an AE or WAE, whose codes nothing held to N(0, 1) (an AE's spread about 3
    times wider), the codes' root mean square, at least 1, rounded up."""
    if has_posterior(model):
        return SCALE_STEP
    rms = float(mu.double().pow(2).mean().sqrt())
    return min(2**16 - 1, max(SCALE_STEP, int(np.ceil(rms * SCALE_STEP))))


@torch.no_grad()
def reconstruct(model: VAE, codes: Tensor, buckets: Buckets, labels: Tensor | None,
                batch_size: int = 500) -> Tensor:
    """The decoder's mean image for each row of bucket indices: (N, C, H, W) in [0, 1]."""
    centres = buckets.centres().float()
    out = []
    for start in range(0, len(codes), batch_size):
        part = slice(start, start + batch_size)
        y = None if labels is None else labels[part]
        out.append(as_model(model).image(centres[codes[part]], y).float())
    return torch.cat(out).reshape(len(codes), *image_shape(model))


def compress_lossy(model: VAE, weights: str, images: Tensor, labels: Tensor | None = None,
                   precision: int = 4) -> bytes:
    """Images with intensities in [0, 1]: the bucketed latent means, `precision` bits per dimension."""
    _check_model_input(model, images, labels)
    _check_settings(precision, 1, 1)
    mu = latent_means(model, images, labels)
    scale = lossy_scale(model, mu)
    codes = Buckets(precision, scale / SCALE_STEP).index(mu)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(_sym(codes), _model.Uniform(1 << precision))
    if classes(model):
        coder.encode_reverse(_sym(labels.long()), _model.Uniform(classes(model)))
    payload = coder.get_compressed()
    header = Header(LOSSY, precision, 1, 0, len(images), image_shape(model), classes(model), scale,
                    weights, 0, len(payload), zlib.crc32(payload.tobytes()))
    return header.pack() + payload.astype("<u4").tobytes()


def lossy_bits(model: VAE, precision: int) -> float:
    """What one image adds to a lossy file: `precision` bits per latent dimension, and its label's share under
    a uniform code for a conditional model (a file adds its header and rounds up to whole 32-bit words)."""
    return latent_dim(model) * precision + (float(np.log2(classes(model))) if classes(model) else 0.0)


def _decompress_lossy(model: VAE, header: Header, payload: np.ndarray) -> Decoded:
    coder = constriction.stream.stack.AnsCoder(payload)
    y = torch.from_numpy(coder.decode(_model.Uniform(header.classes), header.count)).long() if header.classes else None
    codes = coder.decode(_model.Uniform(1 << header.precision), header.count * latent_dim(model))
    if not coder.is_empty():
        raise CodecError("damaged: data left over after the last image")
    codes = torch.from_numpy(codes).long().reshape(header.count, latent_dim(model))
    buckets = Buckets(header.precision, header.scale / SCALE_STEP)
    return Decoded(header, reconstruct(model, codes, buckets, y), y)


# --- the file --------------------------------------------------------------------------------------------

def read_header(data: bytes) -> tuple[Header, np.ndarray]:
    """The header and payload words of a file, checked for everything that does not need the model."""
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise CodecError("not a Latent Explorer compressed file (it does not start with LXVC)")
    if len(data) < HEADER.size:
        raise CodecError(f"truncated: {len(data)} bytes, shorter than the {HEADER.size}-byte header")
    (_, version, mode, precision, k, chains, count, c, h, w, n_classes, scale, sha, kept, words,
     crc) = HEADER.unpack_from(data)
    if version != VERSION:
        raise CodecError(f"format version {version}; this program reads version {VERSION}")
    header = Header(mode, precision, k, chains, count, (c, h, w), n_classes, scale, sha.hex(), kept, words, crc)
    size = HEADER.size + 4 * words
    if len(data) < size:
        raise CodecError(f"truncated: {len(data)} bytes of the {size} the header announces")
    if len(data) > size:
        raise CodecError(f"damaged: {len(data) - size} bytes more than the header announces")
    payload = np.frombuffer(data, dtype="<u4", offset=HEADER.size).astype(np.uint32)
    if zlib.crc32(payload.tobytes()) != crc:
        raise CodecError("damaged: the coded data's checksum does not match")
    if mode not in MODES or count < 1 or not PRECISION_RANGE[0] <= precision <= PRECISION_RANGE[1] \
            or not 1 <= k <= MAX_K or (mode == LOSSLESS and (chains < 1 or scale != SCALE_STEP)) or scale < 1:
        raise CodecError("damaged: the header holds impossible values")
    return header, payload


def decompress(model: VAE, weights: str, data: bytes) -> Decoded:
    """The images of a file made by compress_lossless or compress_lossy for this model."""
    header, payload = read_header(data)
    if header.weights != weights:
        raise CodecError(f"made with another model (weights sha256 {header.weights[:12]}…), not this one "
                         f"({weights[:12]}…)")
    if header.shape != image_shape(model) or header.classes != classes(model):
        raise CodecError("damaged: the header's image shape or classes do not fit this model")
    if header.mode == LOSSY:
        return _decompress_lossy(model, header, payload)
    if no_bits_back(model):
        raise CodecError("damaged: a lossless file for a model without a posterior")
    return _decompress_lossless(model, header, payload)


def payload_bits(data: bytes) -> int:
    """Bits of coded data in a file, without its header."""
    return 8 * (len(data) - HEADER.size)
