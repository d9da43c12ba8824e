"""The browser sliders must decode as the torch decoder does, fit in a page, and stand alone."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from imgen.models import ConvAutoencoder, DenseAutoencoder
from imgen.sliders import decode_payload, export_decoder, slider_html


def spread_decoder(in_shape=(3, 4, 4), hidden=(8,), latent=2, gain=4.0):
    """A small dense autoencoder whose decoder's pixels span 0..1, as a trained one's do."""
    torch.manual_seed(0)
    model = DenseAutoencoder(in_shape=in_shape, hidden=hidden, latent=latent).eval()
    with torch.no_grad():
        for layer in model.decoder:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(gain)
    return model


@pytest.mark.parametrize("weights, tolerance", [("float16", 0.002), ("int8", 0.02)])
def test_exported_decoder_decodes_like_the_torch_decoder(weights, tolerance):
    model = spread_decoder()
    codes = torch.rand(64, 2)
    expected = model.decode(codes).detach().numpy()
    got = decode_payload(export_decoder(model, weights=weights), codes.numpy())
    assert got.shape == expected.shape == (64, 3, 4, 4)
    assert expected.std() > 0.1  # the pixels really spread, so the comparison means something
    assert np.abs(got - expected).max() < tolerance


def test_float16_weights_are_exact_for_a_float16_checkpoint():
    model = spread_decoder().half().float()  # as pretrained.load gives the shipped weights
    codes = torch.rand(64, 2)
    expected = model.decode(codes).detach().numpy()
    assert np.abs(decode_payload(export_decoder(model), codes.numpy()) - expected).max() < 1e-5


def test_fruit_sized_page_stays_under_600_kb_and_int8_halves_it():
    model = DenseAutoencoder()
    sizes = {
        w: len(slider_html(export_decoder(model, weights=w)).encode()) for w in ["float16", "int8"]
    }
    assert sizes["float16"] < 600_000
    assert sizes["int8"] < 0.55 * sizes["float16"]


def test_page_has_the_expected_ids_and_no_external_script():
    page = slider_html(export_decoder(spread_decoder()), presets={"apple": [0.1, 0.2]}, uid="fruit")
    for element in ["fruit", "fruit-canvas", "fruit-z0", "fruit-z1", "fruit-p0", "fruit-status"]:
        assert f'id="{element}"' in page
    assert 'type="range"' in page and "image-rendering:pixelated" in page
    assert not re.search(r"<script[^>]*\bsrc=", page) and "http" not in page


def test_two_pages_get_different_ids():
    payload = export_decoder(spread_decoder())
    ids = [re.search(r'id="([^"]+)"', slider_html(payload)).group(1) for _ in range(2)]
    assert ids[0] != ids[1]


def test_convolutional_decoder_is_refused_with_the_layer_named():
    with pytest.raises(ValueError, match="ConvTranspose2d|BatchNorm1d|Unflatten|BatchNorm2d"):
        export_decoder(ConvAutoencoder(in_shape=(3, 16, 16), latent=4))


def test_codes_outside_0_to_1_are_refused():
    payload = export_decoder(spread_decoder())
    with pytest.raises(ValueError, match="2 numbers in 0..1"):
        slider_html(payload, presets={"odd": [0.5, 1.5]})
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        decode_payload(payload, np.zeros((3, 5)))


def test_unknown_weight_format_is_refused():
    with pytest.raises(ValueError, match="weights must be one of"):
        export_decoder(spread_decoder(), weights="int4")


FAKE_DOM = """
const elements = {};
let drawn = null;
function element(id) {
  if (!(id in elements)) {
    elements[id] = {
      id: id, value: "0.5", dataset: {}, textContent: "",
      addEventListener: () => {},
      getContext: () => ({
        createImageData: (w, h) => ({data: new Uint8ClampedArray(w * h * 4)}),
        putImageData: (image) => { drawn = Array.from(image.data); },
      }),
    };
  }
  return elements[id];
}
globalThis.document = {getElementById: element};
element("UID-z0").value = "0.25";
element("UID-z1").value = "0.8";
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the page's script")
@pytest.mark.parametrize("weights", ["float16", "int8"])
def test_page_script_draws_the_decoded_image_in_node(tmp_path, weights):
    model = spread_decoder()
    page = slider_html(export_decoder(model, weights=weights), uid="UID")
    script = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    path = tmp_path / "page.js"
    path.write_text(FAKE_DOM + script + "\nconsole.log(JSON.stringify(drawn));\n")
    run = subprocess.run(["node", str(path)], capture_output=True, text=True, check=True)
    rgba = np.array(json.loads(run.stdout)).reshape(4, 4, 4)
    expected = model.decode(torch.tensor([[0.25, 0.8]])).detach()[0].permute(1, 2, 0).numpy()
    assert (rgba[..., 3] == 255).all()
    assert np.abs(rgba[..., :3] - 255 * expected).max() <= 255 * 0.02
