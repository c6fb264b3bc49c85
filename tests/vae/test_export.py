"""vae.store.export: the networks, the atlas and lists of values as JSON-able data for the browser."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from vae.analysis.atlas import Atlas
from vae.store.export import atlas_map_spec, float32_base64, latent_plane_spec, map_spec, network_specs, values_spec


def floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def test_float32_base64_round_trips_in_row_major_order() -> None:
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3).T  # not contiguous, not float32
    assert floats(float32_base64(t)).tolist() == [0, 3, 1, 4, 2, 5]


def test_network_specs_carry_the_onnx_files_as_they_are_and_how_to_feed_them() -> None:
    model = {"latent_shape": [4, 2, 2], "image_shape": [3, 8, 8], "output": "mean", "input_range": [-1, 1],
             "conditional": True, "class_names": ["a", "b", "c"]}
    specs = json.loads(json.dumps(network_specs(b"encoder bytes", b"decoder bytes", model)))
    assert base64.b64decode(specs["decoder"]["onnx"]) == b"decoder bytes"
    assert base64.b64decode(specs["encoder"]["onnx"]) == b"encoder bytes"
    decoder = specs["decoder"]
    assert decoder["format"] == "latent-explorer-onnx-decoder/1" and decoder["latent_dim"] == 16
    assert (decoder["output"], decoder["input_range"], decoder["num_classes"]) == ("mean", [-1, 1], 3)
    assert specs["decoder"]["id"] != specs["encoder"]["id"]
    assert network_specs(b"encoder bytes", b"other decoder", model)["decoder"]["id"] != decoder["id"]
    assert set(network_specs(None, b"decoder bytes", model)) == {"decoder"}


@pytest.mark.parametrize(("change", "message"), [
    ({"output": "sigmoid"}, "output kind must be one of logits, probs, mean"),
    ({"conditional": True, "class_names": []}, "needs its class names"),
])
def test_network_specs_refuse_what_the_runtime_cannot_follow(change: dict, message: str) -> None:
    model = {"latent_shape": [2], "image_shape": [1, 28, 28], "output": "logits", **change}
    with pytest.raises(ValueError, match=message):
        network_specs(None, b"", model)


def test_map_spec_holds_points_means_and_labels() -> None:
    xy, mu, labels = torch.randn(5, 2), torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    spec = json.loads(json.dumps(map_spec(xy, mu, labels, ["a", "b", "c"])))
    assert (spec["n"], spec["latent_dim"], spec["labels"]) == (5, 3, [0, 1, 2, 1, 0])
    assert spec["class_names"] == ["a", "b", "c"]
    np.testing.assert_array_equal(floats(spec["mu"]), mu.numpy().ravel())
    assert spec["id"] != map_spec(xy, mu + 1, labels)["id"]


def test_map_spec_refuses_mismatched_or_non_finite_input() -> None:
    with pytest.raises(ValueError, match="need xy"):
        map_spec(torch.zeros(4, 2), torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="finite"):
        map_spec(torch.full((2, 2), float("nan")), torch.zeros(2, 2), torch.zeros(2, dtype=torch.long))


def test_a_map_says_how_it_places_codes() -> None:
    n = 6
    atlas = Atlas({"pca": torch.randn(n, 2), "umap": torch.randn(n, 2)}, torch.randn(n, 3), torch.zeros(n, 3),
                  torch.zeros(n), torch.arange(n) % 2, torch.randn(3), torch.randn(2, 3))
    pca = atlas_map_spec(atlas, "pca", ["a", "b"])
    assert pca["kind"] == "atlas" and pca["placement"]["rule"] == "pca"
    np.testing.assert_array_equal(floats(pca["placement"]["basis"]), atlas.pca_basis.numpy().ravel())
    assert atlas_map_spec(atlas, "umap")["placement"] == {"rule": "neighbours", "k": 8}
    with pytest.raises(ValueError, match="PCA needs"):
        map_spec(atlas.coords["pca"], atlas.mu, atlas.labels, pca=(torch.zeros(2), torch.zeros(2, 3)))


def test_a_latent_plane_is_a_map_whose_places_are_codes() -> None:
    mu = torch.randn(4, 2)
    spec = latent_plane_spec(mu, torch.tensor([0, 1, 0, 1]), ["a", "b"])
    assert spec["kind"] == "latent_plane" and spec["placement"] == {"rule": "identity"}
    np.testing.assert_array_equal(floats(spec["xy"]), mu.numpy().ravel())
    with pytest.raises(ValueError, match="2-D latent"):
        latent_plane_spec(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_values_spec_holds_finite_numbers() -> None:
    spec = values_spec(torch.tensor([3.0, 1.0, 2.0]))
    assert spec["n"] == 3 and floats(spec["values"]).tolist() == [3, 1, 2]
    with pytest.raises(ValueError, match="finite"):
        values_spec(torch.tensor([1.0, float("inf")]))
