"""The atlas: everything the latent map needs, computed once per checkpoint and stored beside it.

`FOLDER/atlas.safetensors` holds, for every test image, the 2-D coordinates (`umap`, `pca`; a model
with a 2-D latent has `latent`, its own plane, instead of UMAP),
the posterior mean and log-variance (`mu`, `logvar`), the per-pixel mean squared error of the
mean code's reconstruction (`recon_error`) and the label (`labels`), plus the PCA basis
(`pca_mean`, `pca_basis`) so that any latent code can be projected exactly. Atlases built with scores
also hold each image's anomaly scores (`score.<name>`, see vae.analysis.scores); older atlases have none. Each
projection's `kept.<projection>` counts, per image, how many of its 10 nearest latent neighbours stay
neighbours on the map, and atlas.json its `trustworthiness` (vae.analysis.quality); older atlases have neither.
`FOLDER/atlas.json` records the dataset, split, size, projections, the sha256 of the weights
it was built from (so a stale atlas is detected), the sha256 of the test images (so a map of a
folder that changed since is detected) and the seconds it took.

`python -m vae atlas CHECKPOINT --split all` writes a second atlas, `atlas-all.safetensors` and `atlas-all.json`,
of the test images followed by the training images (70,000 points for MNIST), one UMAP fitted to them all;
its meta's `splits` counts each part ({"test": 10000, "train": 60000}) and `split_sha256` hashes each part's
images. Its anomaly scores, if any, cover the test part only (the first `splits["test"]` points): see `part`.

umap is imported only while building, never while loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vae.analysis.scores import NLL_K, SCORES, Reference, score_set, unavailable
from vae.datasets.data import load_dataset
from vae.datasets.folder import locate
from vae.datasets.imageset import ImageSet
from vae.datasets.levels import Levels
from vae.models.interface import as_model
from vae.networks.latent import decode
from vae.networks.objectives import kl_per_dim
from vae.store.checkpoint import Checkpoint, CheckpointError, read_tensors, weights_sha256, write_json, write_tensors

ATLAS_TENSORS = "atlas.safetensors"
ATLAS_META = "atlas.json"
SPLITS = ("test", "train", "all")  # the atlas of the test images, of the training images, and of both
PROJECTIONS = ("latent", "umap", "pca")
NEIGHBOURS_FOR_PLACEMENT = 8
SCORE_PREFIX = "score."
KEPT_PREFIX = "kept."
STEP_WEIGHTS = {"encode": 1, "scores": 1, "umap": 6, "quality": 1}  # rough shares of the time, for progress

Progress = Callable[[float, str], None]


class AtlasError(RuntimeError):
    """An atlas is missing, corrupt or inconsistent."""


class AtlasMissing(AtlasError):
    """The checkpoint folder has no atlas yet."""


@dataclass
class Atlas:
    """Per-image latent statistics of a test set and their 2-D projections.

    `coords` maps a projection name ("latent", "umap", "pca") to (N, 2) coordinates; an atlas built
    without umap has only "pca", and a 2-D latent's has "latent" (the codes themselves) and "pca".
    """

    coords: dict[str, Tensor]
    mu: Tensor
    logvar: Tensor
    recon_error: Tensor
    labels: Tensor
    pca_mean: Tensor
    pca_basis: Tensor
    meta: dict[str, Any] = field(default_factory=dict)
    stale: bool = False
    scores: dict[str, Tensor] = field(default_factory=dict)  # name -> (N,), higher is more unusual
    kept: dict[str, Tensor] = field(default_factory=dict)  # projection -> (N,) latent neighbours kept on the map

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def splits(self) -> dict[str, int]:
        """How many points come from each split, in the order they are stored."""
        return self.meta.get("splits") or {self.meta.get("split", "test"): len(self)}

    def source(self, i: int) -> tuple[str, int]:
        """Point i's split and its index in that split ("train", 123)."""
        for split, n in self.splits.items():
            if i < n:
                return split, i
            i -= n
        raise IndexError(f"point {i} is not on this map")

    def part(self, split: str) -> Atlas:
        """The points of one split ("test", "train") of an atlas of both, or all of them ("all"), as an atlas of
        their own (same projections; scores only where every point has them: the test part)."""
        counts = self.splits
        if split == "all" or list(counts) == [split]:
            return self
        if split not in counts:
            raise AtlasError(f"this atlas has no {split} images (it has {', '.join(counts)})")
        names = list(counts)
        start = sum(counts[s] for s in names[:names.index(split)])
        rows = slice(start, start + counts[split])
        meta = {**self.meta, "split": split, "n": counts[split], "splits": {split: counts[split]},
                "images_sha256": (self.meta.get("split_sha256") or {}).get(split)}
        scores = {k: v for k, v in self.scores.items() if len(v) == counts[split] and start == 0}
        return Atlas({p: c[rows] for p, c in self.coords.items()}, self.mu[rows], self.logvar[rows],
                     self.recon_error[rows], self.labels[rows], self.pca_mean, self.pca_basis, meta, self.stale,
                     scores, {p: k[rows] for p, k in self.kept.items()})

    @cached_property
    def kl_per_dim(self) -> Tensor:
        """Mean KL(q(z|x) || N(0, I)) of each latent dimension over the atlas images, in nats: (D,)."""
        return kl_per_dim(self.mu, self.logvar).mean(dim=0)

    @cached_property
    def mean_variance(self) -> Tensor:
        """Variance of each dimension's posterior mean across images (activity, as in Burda et al.): (D,)."""
        return self.mu.var(dim=0)

    def describes(self, data: ImageSet) -> bool:
        """Whether the atlas's points are the first len(self) images of `data` (a folder dataset may have
        changed since the atlas was built; atlases made before the images' hash was kept compare labels)."""
        if len(self) > len(data):
            return False
        part = data.subset(len(self))
        if "images_sha256" in self.meta:
            return self.meta["images_sha256"] == images_sha256(part)
        return torch.equal(part.labels, self.labels)

    @property
    def projections(self) -> list[str]:
        return [p for p in PROJECTIONS if p in self.coords]

    def project(self, codes: Tensor, projection: str) -> Tensor:
        """Place latent codes (M, D) on the map: (M, 2).

        PCA is linear, so this is exact. UMAP has no cheap inverse-free transform without
        the fitted reducer, so a code goes to the inverse-distance-weighted mean of the map
        positions of its nearest atlas codes (exactly onto a point it coincides with).
        """
        codes = codes.reshape(-1, self.mu.shape[1]).float()
        if projection == "latent":
            return codes.clone()
        if projection == "pca":
            return (codes - self.pca_mean) @ self.pca_basis.T
        dist = torch.cdist(codes, self.mu, compute_mode="donot_use_mm_for_euclid_dist")  # exact near zero
        k = min(NEIGHBOURS_FOR_PLACEMENT, len(self.mu))
        d, idx = dist.topk(k, dim=1, largest=False)
        weights = 1.0 / d.clamp_min(1e-6) ** 2
        weights = weights / weights.sum(dim=1, keepdim=True)
        return (weights.unsqueeze(2) * self.coords[projection][idx]).sum(dim=1)


def files(split: str = "test") -> tuple[str, str]:
    """The tensors' and the metadata's file names of an atlas: the test set's, or both splits' ("all")."""
    if split == "test":
        return ATLAS_TENSORS, ATLAS_META
    if split == "all":
        return "atlas-all.safetensors", "atlas-all.json"
    raise AtlasError(f"an atlas is stored for the test split or for all images, not for {split!r}")


def add_quality(atlas: Atlas, progress: Progress | None = None) -> None:
    """Measure how far each projection keeps the latent neighbourhoods (vae.analysis.quality): the per-image
    neighbours kept, and the trustworthiness in the metadata."""
    from vae.analysis import quality

    trust = {}
    for i, projection in enumerate(atlas.projections):
        if progress:
            progress(i / len(atlas.projections), f"measuring how well the {projection} map keeps latent neighbours")
        xy = atlas.coords[projection]
        atlas.kept[projection] = quality.neighbours_kept(atlas.mu, xy)
        trust[projection] = round(quality.trustworthiness(atlas.mu, xy), 4)
    atlas.meta["trustworthiness"] = trust
    atlas.meta["quality"] = (f"trustworthiness: scikit-learn's, k = {quality.K}, against the latent means, on "
                             f"{quality.SAMPLE:,} images at most; kept.<projection>: how many of each image's "
                             f"{quality.K} nearest latent neighbours are among its {quality.K} nearest on the map")


def images_sha256(*sets: ImageSet) -> str:
    """The sha256 of the images of these sets, one after the other."""
    digest = hashlib.sha256()
    for data in sets:
        digest.update(data.images.contiguous().numpy().tobytes())
    return digest.hexdigest()


def load_test_set(meta: dict[str, Any], root: str | os.PathLike | None = None, near: Path | None = None,
                  split: str = "test") -> ImageSet:
    """The test split (or another) of the dataset a checkpoint was trained on, at its size and channels.

    `near` is the checkpoint's folder: an old relative `folder:` path is also looked for from there. A folder's
    images are read with the checkpoint's recorded levels and class order; a model described by model.json
    takes them at its declared image shape.
    """
    train = meta.get("train") or {}
    size, channels = train.get("size"), train.get("channels")
    if "image_shape" in meta and meta["dataset"].startswith("folder:"):
        channels, _, size = meta["image_shape"]
    return load_dataset(locate(meta["dataset"], near), split, root, size, channels, Levels.of(meta),
                        meta.get("class_names"))


def pca_2d(mu: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and the top two principal directions (2, D), signs fixed so results are repeatable."""
    mean = mu.mean(dim=0)
    centred = mu - mean
    if mu.shape[1] == 1:  # a 1-D latent: the second axis carries nothing
        return mean, torch.tensor([[1.0], [0.0]])
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    basis = vh[:2].clone()
    signs = torch.sign(basis.gather(1, basis.abs().argmax(dim=1, keepdim=True)))
    return mean, basis * signs


def fit_umap(mu: Tensor, seed: int = 0, **params: Any) -> Tensor:
    """UMAP of the latent means (umap imported here only: it takes seconds to import)."""
    import umap

    n = len(mu)
    params.setdefault("n_neighbors", min(15, max(2, n - 1)))
    params.setdefault("min_dist", 0.1)
    reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1, **params)
    threads = torch.get_num_threads()
    try:
        return torch.from_numpy(reducer.fit_transform(mu.numpy())).float()
    finally:
        torch.set_num_threads(threads)  # numba's OpenMP layer resets it, for this whole process


@torch.no_grad()
def encode_with_errors(
    ckpt: Checkpoint, data: ImageSet, batch_size: int = 500, progress: Progress | None = None, what: str = "test images"
) -> tuple[Tensor, Tensor, Tensor]:
    """Posterior means, log-variances and each image's reconstruction MSE (of its mean code)."""
    model = as_model(ckpt.model)
    mus, logvars, errors = [], [], []
    for start in range(0, len(data), batch_size):
        sl = slice(start, start + batch_size)
        x = data.floats(sl)
        y = data.labels[sl]
        mu, logvar = model.encode(x, y)
        recon = decode(model, mu, y)
        mus.append(mu.cpu())
        logvars.append(torch.zeros_like(mus[-1]) if logvar is None else logvar.cpu())  # unused without a posterior
        errors.append((recon - x).pow(2).flatten(1).mean(dim=1))
        if progress:
            done = min(len(data), start + batch_size)
            progress(done / len(data), f"encoding {what}, {done:,} of {len(data):,}")
    return torch.cat(mus), torch.cat(logvars), torch.cat(errors)


def steps(names: list[str], progress: Progress | None) -> Callable[[str], Progress | None]:
    """Each step's own progress (0..1 of that step), reported as a share of the whole, its message
    prefixed "Step i of n", so that the fraction and the step's count agree."""
    total = sum(STEP_WEIGHTS[n] for n in names)

    def step(name: str) -> Progress | None:
        if progress is None:
            return None
        index = names.index(name)
        start = sum(STEP_WEIGHTS[n] for n in names[:index]) / total
        share = STEP_WEIGHTS[name] / total

        def report(fraction: float, message: str) -> None:
            progress(start + share * fraction, f"Step {index + 1} of {len(names)}: {message[:1].lower()}{message[1:]}")

        return report

    return step


def share_of(progress: Progress, start: float, share: float, fraction: float, message: str) -> None:
    """Report a part's progress (0..1) as its share of a larger whole that is `start` done before it."""
    progress(start + share * fraction, message)


def summary(atlas: Atlas, folder: Path) -> str:
    """A few lines for people: what the atlas holds, where it was written and how long it took."""
    meta = atlas.meta
    names = {"latent": "the latent plane itself", "umap": "UMAP", "pca": "PCA"}
    which = " and ".join(f"{n:,} {split}" for split, n in atlas.splits.items())
    umap = f" (UMAP {meta['umap']['seconds']:g} s)" if meta.get("umap") else ""
    lines = [f"Atlas of {which} images of {meta['dataset']} ({meta['latent_dim']}-D latent), "
             f"built in {meta['seconds']:g} s{umap}",
             "  projections: " + ", ".join(names[p] for p in atlas.projections)]
    if atlas.scores:
        k = f" (k = {meta['nll_k']})" if "nll_k" in meta else ""
        lines.append(f"  anomaly scores: {', '.join(SCORES[name].title for name in atlas.scores)}{k}")
    else:
        lines.append("  anomaly scores: none (--no-scores)")
    if "trustworthiness" in meta:
        lines.append("  trustworthiness (k = 10): " + ", ".join(f"{names[p]} {t:.3f}" for p, t in
                                                             meta["trustworthiness"].items()))
    tensors_name, meta_name = files(meta["split"])
    lines.append(f"  written to {folder / tensors_name} and {meta_name}")
    return "\n".join(lines)


def build_atlas(
    ckpt: Checkpoint,
    data: ImageSet,
    progress: Progress | None = None,
    use_umap: bool = True,
    seed: int = 0,
    umap_params: dict[str, Any] | None = None,
    scores: bool = False,
    reference: Reference | None = None,
    nll_k: int = NLL_K,
    train: ImageSet | None = None,
) -> Atlas:
    """Encode `data` with the checkpoint's model and project the means to 2-D (PCA, and UMAP unless told not to).

    With `scores`, every anomaly score the model has is stored too (knn and stats only with a `reference`).
    With `train` (the training images), the atlas holds both splits, the test images first, all projected at
    once (the split "all"); scores are then computed for the test images only.
    """
    if len(data) < 3:
        raise AtlasError(f"an atlas needs at least 3 images, the test set has {len(data)}")
    started = time.perf_counter()
    sha = weights_sha256(ckpt.folder)
    use_umap = use_umap and ckpt.model.cfg.latent_dim != 2  # a 2-D latent space is a plane already: no UMAP
    step = steps(["encode", *["scores"] * scores, *["umap"] * use_umap, "quality"], progress)
    parts = {"test": data, **({"train": train} if train is not None else {})}
    encode, before, everything = step("encode"), 0, sum(len(part) for part in parts.values())
    encoded = []
    for split, part in parts.items():  # one step: each part's share of the images, one after the other
        report = None if encode is None else partial(share_of, encode, before / everything, len(part) / everything)
        encoded.append(encode_with_errors(ckpt, part, progress=report, what=f"{split} images"))
        before += len(part)
    mu, logvar, recon_error = (torch.cat(columns) for columns in zip(*encoded, strict=True))
    scored: dict[str, Tensor] = {}
    if scores:
        scored = score_set(ckpt.model, data, reference, k=nll_k, progress=step("scores"))
    pca_mean, pca_basis = pca_2d(mu)
    coords = {"pca": (mu - pca_mean) @ pca_basis.T}
    if mu.shape[1] == 2:
        coords["latent"] = mu.clone()
    if use_umap:
        report = step("umap")
        if report:
            report(0.0, f"fitting UMAP to {len(mu):,} latent means (the slow part: about a minute for 10,000)")
        fitting = time.perf_counter()
        coords["umap"] = fit_umap(mu, seed, **(umap_params or {}))
        umap_seconds = round(time.perf_counter() - fitting, 1)
    meta = {
        "dataset": data.name,
        "split": "test" if train is None else "all",
        "n": len(mu),
        "latent_dim": mu.shape[1],
        "projections": [p for p in PROJECTIONS if p in coords],
        "umap": {"seed": seed, **(umap_params or {}), "seconds": umap_seconds} if use_umap else None,
        "recon_error": "per-pixel mean squared error of the mean code's reconstruction",
        "weights_sha256": sha,
        "images_sha256": images_sha256(*parts.values()),
        **({"splits": {split: len(part) for split, part in parts.items()},
            "split_sha256": {split: images_sha256(part) for split, part in parts.items()}} if train else {}),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if scored:
        meta["scores"] = {name: f"{SCORES[name].title} ({SCORES[name].unit}): {SCORES[name].about}" for name in scored}
        if unavailable(ckpt.model):
            meta["scores_left_out"] = unavailable(ckpt.model)
        if "nll" in scored or "complexity" in scored:
            meta["nll_k"] = nll_k
        if as_model(ckpt.model).conditional:
            meta["score_labels"] = "inferred: each image is scored as the class it fits best (see vae.analysis.scores)"
    if train is not None and scored:
        meta["scores_of"] = "the test images only (the first splits.test points)"
    labels = torch.cat([part.labels for part in parts.values()]).long()
    atlas = Atlas(coords, mu, logvar, recon_error, labels, pca_mean, pca_basis, meta, scores=scored)
    add_quality(atlas, step("quality"))
    if progress:
        progress(1.0, "Atlas ready")
    atlas.meta["seconds"] = round(time.perf_counter() - started, 1)
    return atlas


def save_atlas(folder: str | os.PathLike, atlas: Atlas) -> None:
    """Write the tensors, then the JSON, each atomically (an atlas of both splits to its own files)."""
    folder = Path(folder)
    tensors_name, meta_name = files(atlas.meta.get("split", "test"))
    tensors = {
        **atlas.coords,
        "mu": atlas.mu, "logvar": atlas.logvar, "recon_error": atlas.recon_error,
        "labels": atlas.labels, "pca_mean": atlas.pca_mean, "pca_basis": atlas.pca_basis,
        **{f"{SCORE_PREFIX}{name}": values for name, values in atlas.scores.items()},
        **{f"{KEPT_PREFIX}{projection}": kept for projection, kept in atlas.kept.items()},
    }
    write_tensors(folder / tensors_name, {k: v.contiguous() for k, v in tensors.items()})
    write_json(folder / meta_name, atlas.meta)


def load_atlas(folder: str | os.PathLike, split: str = "test") -> Atlas:
    """Read and check a stored atlas (the test set's, or with split="all" both splits'); `stale` is set when the
    weights changed since it was built."""
    folder = Path(folder)
    tensors_name, meta_name = files(split)
    tensors_path, meta_path = folder / tensors_name, folder / meta_name
    try:
        if not tensors_path.is_file() or not meta_path.is_file():
            flag = "" if split == "test" else f" --split {split}"
            raise AtlasMissing(f"{folder}: no atlas yet (build it with `python -m vae atlas {folder}{flag}`)")
        meta = json.loads(meta_path.read_text())
        t = read_tensors(tensors_path)
    except OSError as err:
        raise AtlasError(f"{err.filename or folder}: cannot be read ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError, CheckpointError) as err:
        raise AtlasError(f"{folder}: unreadable atlas ({err})") from err
    required = ("pca", "mu", "logvar", "recon_error", "labels", "pca_mean", "pca_basis")
    missing = [k for k in required if k not in t]
    if missing or not isinstance(meta, dict):
        raise AtlasError(f"{tensors_path}: incomplete atlas (missing {', '.join(missing) or 'metadata'})")
    n, d = t["mu"].shape
    splits = meta.get("splits") or {}
    if not isinstance(splits, dict) or not all(isinstance(v, int) and v >= 0 for v in splits.values()):
        raise AtlasError(f"{meta_path}: `splits` should count the images of each split")
    scored = splits.get("test", n)  # an atlas of both splits scores its test part only
    coords = {p: t[p].float() for p in PROJECTIONS if p in t}
    scores = {name: t[SCORE_PREFIX + name].float() for name in SCORES if SCORE_PREFIX + name in t}
    kept = {p: t[KEPT_PREFIX + p] for p in coords if KEPT_PREFIX + p in t}
    shapes_ok = (
        all(c.shape == (n, 2) for c in coords.values())
        and t["logvar"].shape == (n, d)
        and t["recon_error"].shape == (n,)
        and t["labels"].shape == (n,)
        and t["pca_mean"].shape == (d,)
        and t["pca_basis"].shape == (2, d)
        and all(v.shape == (n,) for v in kept.values())
        and all(v.shape == (scored,) for v in scores.values())
        and (not splits or sum(splits.values()) == n)
    )
    if not shapes_ok:
        raise AtlasError(f"{tensors_path}: tensors disagree in shape; rebuild it")
    try:
        stale = meta.get("weights_sha256") != weights_sha256(folder)
    except OSError:
        stale = True
    return Atlas(
        coords, t["mu"].float(), t["logvar"].float(), t["recon_error"].float(), t["labels"].long(),
        t["pca_mean"].float(), t["pca_basis"].float(), meta, stale, scores, kept,
    )
