"""Decoder sliders that work in a static web page: no kernel, no server, no external script.

``ipywidgets`` sliders need a running Python kernel, so in the published book they are blank.
This module turns a trained dense decoder (the fruit autoencoder's 4-16-256-768) into a page
fragment that runs the decoder itself in the browser: :func:`export_decoder` packs its weights
as base64 in JSON (float16 by default, about 540 KB of text for the fruit decoder; 8-bit
integers halve that at the cost of a few grey levels), :func:`decode_payload` is the same
arithmetic in NumPy (the reference the tests hold the JavaScript to), and :func:`slider_html`
writes the sliders, a canvas and the script. Taught in the fruit autoencoder chapter.
"""

from __future__ import annotations

import base64
import html
import json
import math
import uuid

import numpy as np
import torch
from torch import nn

FORMAT = "imgen-dense-decoder-1"
ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid"}
WEIGHT_FORMATS = ("float16", "int8")
_BOX_STYLE = "display:flex;gap:1.5em;align-items:center;flex-wrap:wrap;margin:1em 0"


def export_decoder(model, weights="float16"):
    """The dense decoder of ``model`` as a JSON-ready dict: codes ``(latent,)`` to ``(C, H, W)``.

    ``model.decoder`` must be ``Linear`` layers, each followed by at most one ``ReLU`` or
    ``Sigmoid``, and a final ``Unflatten`` to the image shape, as in
    :class:`imgen.models.DenseAutoencoder`. Each weight matrix ``(out, in)`` is stored row-major
    as ``weights``: ``"float16"`` (exact for the course's checkpoints, which are float16), or
    ``"int8"`` with one float32 scale per row (``w ~ q * scale[row]``), half the size. Biases
    stay float32.
    """
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"weights must be one of {WEIGHT_FORMATS}, got {weights!r}")
    decoder = getattr(model, "decoder", None)
    if not isinstance(decoder, nn.Sequential):
        raise TypeError(
            "export_decoder needs a model with a .decoder nn.Sequential, "
            f"got {type(model).__name__}"
        )
    layers, shape = [], None
    for module in decoder:
        if isinstance(module, nn.Linear):
            layers.append(_pack_linear(module, weights))
        elif type(module) in ACTIVATIONS and layers and layers[-1]["activation"] is None:
            layers[-1]["activation"] = ACTIVATIONS[type(module)]
        elif isinstance(module, nn.Unflatten) and module is decoder[-1]:
            shape = [int(n) for n in module.unflattened_size]
        else:
            raise ValueError(
                "export_decoder handles dense decoders (Linear layers, each followed by at most "
                f"one ReLU or Sigmoid, then Unflatten), got a {type(module).__name__} layer in "
                f"{type(model).__name__}.decoder"
            )
    if not layers or shape is None or len(shape) != 3 or math.prod(shape) != layers[-1]["out"]:
        raise ValueError(
            f"{type(model).__name__}.decoder must end in Unflatten to (C, H, W) with C*H*W equal "
            "to the last Linear layer's outputs"
        )
    return {"format": FORMAT, "latent": layers[0]["in"], "shape": shape, "layers": layers}


def decode_payload(payload, codes):
    """Decode ``codes`` ``(N, latent)`` with an exported payload: ``(N, C, H, W)`` float32.

    The arithmetic of the page's script, in NumPy: dequantise, then per layer ``x @ W.T + b``
    and the layer's activation.
    """
    x = np.atleast_2d(np.asarray(codes, dtype=np.float32))
    if x.ndim != 2 or x.shape[1] != payload["latent"]:
        raise ValueError(
            f"expected codes of shape (N, {payload['latent']}), got {np.asarray(codes).shape}"
        )
    for layer in payload["layers"]:
        weight, bias = _unpack_linear(layer)
        x = x @ weight.T + bias
        if layer["activation"] == "relu":
            x = np.maximum(x, 0)
        elif layer["activation"] == "sigmoid":
            x = 1 / (1 + np.exp(-x))
    return x.reshape(len(x), *payload["shape"])


def slider_html(
    payload, *, initial=None, presets=None, names=None, scale=12, uid=None, low=0.0, high=1.0
):
    """A self-contained HTML fragment: one range slider (``low..high``) per code number and a
    canvas.

    Moving a slider runs the decoder of ``payload`` (from :func:`export_decoder`) in the
    browser and redraws the image, ``scale`` times enlarged with square pixels. ``presets`` maps
    a button label to a code (``{"apple": [...], ...}``); ``initial`` is the starting code
    (the middle of the range by default); ``names`` labels the sliders. The range is 0..1 for a
    code squashed by a sigmoid; a variational autoencoder's code is unbounded, and ``low=-2.5,
    high=2.5`` covers 2.5 standard deviations of its prior either side of the mean. Element ids
    start with ``uid`` (a fresh random one by default), so several fragments can share a page.
    """
    latent = payload["latent"]
    low, high = float(low), float(high)
    if not low < high:
        raise ValueError(f"the slider range needs low < high, got low={low} and high={high}")
    span = (low, high)
    initial = (
        [(low + high) / 2] * latent
        if initial is None
        else _check_code(initial, latent, "initial", span)
    )
    presets = {
        str(k): _check_code(v, latent, f"preset {k!r}", span) for k, v in (presets or {}).items()
    }
    names = [f"z{i + 1}" for i in range(latent)] if names is None else [str(n) for n in names]
    if len(names) != latent:
        raise ValueError(f"expected {latent} slider names, got {len(names)}")
    uid = uid or "imgen-sliders-" + uuid.uuid4().hex[:10]
    channels, height, width = payload["shape"]
    rows = "\n".join(
        f'<label style="display:block;font-family:monospace">{html.escape(name)} '
        f'<input type="range" id="{uid}-z{i}" min="{low:g}" max="{high:g}" '
        f'step="{(high - low) / 100:g}" value="{value:.2f}" '
        f'style="vertical-align:middle;width:180px"> '
        f'<output id="{uid}-v{i}">{value:.2f}</output></label>'
        for i, (name, value) in enumerate(zip(names, initial, strict=True))
    )
    buttons = " ".join(
        f'<button type="button" id="{uid}-p{i}">{html.escape(label)}</button>'
        for i, label in enumerate(presets)
    )
    config = {
        "uid": uid,
        "payload": payload,
        "presets": list(presets.values()),
    }
    script = _SCRIPT.replace("__CONFIG__", json.dumps(config, separators=(",", ":")))
    canvas_style = (
        f"width:{width * scale}px;height:{height * scale}px;"
        "image-rendering:pixelated;border:1px solid #ccc"
    )
    return f"""<div id="{uid}" class="imgen-sliders" style="{_BOX_STYLE}">
<canvas id="{uid}-canvas" width="{width}" height="{height}" style="{canvas_style}"></canvas>
<div>
{rows}
<div style="margin-top:0.5em">{buttons}</div>
<div id="{uid}-status" style="font-size:0.8em;color:#666">the decoder runs in your browser</div>
</div>
</div>
<script>
{script}
</script>"""


def _pack_linear(linear, weights):
    weight = linear.weight.detach().to("cpu", torch.float32).numpy()
    bias = (
        np.zeros(len(weight), np.float32)
        if linear.bias is None
        else linear.bias.detach().to("cpu", torch.float32).numpy()
    )
    layer = {
        "in": int(weight.shape[1]),
        "out": int(weight.shape[0]),
        "activation": None,
        "dtype": weights,
        "bias": _b64(bias.astype("<f4")),
    }
    if weights == "float16":
        layer["weights"] = _b64(weight.astype("<f2"))
    else:
        peak = np.abs(weight).max(axis=1)
        scales = np.where(peak > 0, peak / 127, 1).astype(np.float32)
        quantised = np.clip(np.round(weight / scales[:, None]), -127, 127)
        layer["weights"] = _b64(quantised.astype(np.int8))
        layer["scales"] = _b64(scales.astype("<f4"))
    return layer


def _unpack_linear(layer):
    raw = base64.b64decode(layer["weights"])
    if layer["dtype"] == "float16":
        weight = np.frombuffer(raw, "<f2").astype(np.float32)
    else:
        scales = np.frombuffer(base64.b64decode(layer["scales"]), "<f4")
        weight = np.frombuffer(raw, np.int8).reshape(layer["out"], -1) * scales[:, None]
    bias = np.frombuffer(base64.b64decode(layer["bias"]), "<f4")
    return weight.reshape(layer["out"], layer["in"]).astype(np.float32), bias


def _b64(array):
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _check_code(code, latent, what, span=(0.0, 1.0)):
    low, high = span
    values = [float(v) for v in code]
    if len(values) != latent or not all(low <= v <= high for v in values):
        raise ValueError(f"{what} must be {latent} numbers in {low:g}..{high:g}, got {list(code)}")
    return values


# Runs once per fragment; everything it names lives inside the function, so fragments on one page
# do not interfere. Typed arrays over little-endian bytes: every browser in use is little-endian.
_SCRIPT = r"""(function () {
  const cfg = __CONFIG__;
  const uid = cfg.uid, p = cfg.payload;
  const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  function half(h) {
    const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
    if (e === 0) return sign * f * Math.pow(2, -24);
    if (e === 31) return f ? NaN : sign * Infinity;
    return sign * (1 + f / 1024) * Math.pow(2, e - 15);
  }
  const layers = p.layers.map((l) => {
    const w = new Float32Array(l.out * l.in);
    if (l.dtype === "float16") {
      const h = new Uint16Array(bytes(l.weights).buffer);
      for (let k = 0; k < w.length; k++) w[k] = half(h[k]);
    } else {
      const q = new Int8Array(bytes(l.weights).buffer);
      const scales = new Float32Array(bytes(l.scales).buffer);
      for (let k = 0; k < w.length; k++) w[k] = q[k] * scales[Math.floor(k / l.in)];
    }
    return {w: w, b: new Float32Array(bytes(l.bias).buffer), n: l.in, m: l.out, act: l.activation};
  });
  function decode(code) {
    let x = Float32Array.from(code);
    for (const l of layers) {
      const y = new Float32Array(l.m);
      for (let o = 0; o < l.m; o++) {
        let s = l.b[o];
        const row = o * l.n;
        for (let i = 0; i < l.n; i++) s += l.w[row + i] * x[i];
        if (l.act === "relu") s = s > 0 ? s : 0;
        else if (l.act === "sigmoid") s = 1 / (1 + Math.exp(-s));
        y[o] = s;
      }
      x = y;
    }
    return x;
  }
  const root = document.getElementById(uid);
  if (!root) return;
  const [C, H, W] = p.shape;
  const canvas = document.getElementById(uid + "-canvas");
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(W, H);
  const status = document.getElementById(uid + "-status");
  const sliders = [], outputs = [];
  for (let k = 0; k < p.latent; k++) {
    sliders.push(document.getElementById(uid + "-z" + k));
    outputs.push(document.getElementById(uid + "-v" + k));
  }
  function draw() {
    const start = performance.now();
    const code = sliders.map((s) => parseFloat(s.value));
    const x = decode(code);
    for (let y = 0; y < H; y++) {
      for (let c = 0; c < W; c++) {
        const px = y * W + c, at = 4 * px;
        for (let ch = 0; ch < 3; ch++) {
          image.data[at + ch] = Math.round(255 * x[(C === 3 ? ch : 0) * H * W + px]);
        }
        image.data[at + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    code.forEach((v, k) => { outputs[k].textContent = v.toFixed(2); });
    const ms = performance.now() - start;
    root.dataset.code = code.join(",");
    root.dataset.ms = ms.toFixed(3);
    status.textContent = "decoded and drawn in " + ms.toFixed(1) + " ms, by your browser";
  }
  sliders.forEach((s) => s.addEventListener("input", draw));
  cfg.presets.forEach((code, i) => {
    document.getElementById(uid + "-p" + i).addEventListener("click", () => {
      code.forEach((v, k) => { sliders[k].value = v; });
      draw();
    });
  });
  draw();
})();"""
