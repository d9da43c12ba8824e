"""A side chooser for completions that works in a static web page: pictures made in advance.

``ipywidgets`` need a running kernel, so in the published book the inpainting chapter's widgets
are blank. A web page cannot run the completion models, but it can show completions made in
advance: :func:`completion_pictures` completes a few images from every side with each model and
keeps every picture as a small PNG data URI, and :func:`chooser_html` writes a page fragment
with the controls and a few lines of JavaScript that swap the pictures. Nothing is loaded from
anywhere else, so it works offline. Taught in the inpainting chapter, beside
:mod:`imgen.sliders`, which does the same for the fruit decoder.
"""

from __future__ import annotations

import base64
import html
import json
import uuid

import torch

from .occlusion import occlude
from .viz import to_png


def data_uri(image: torch.Tensor) -> str:
    """One image ``(C, H, W)`` in 0..1 as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(to_png(image)).decode()


@torch.no_grad()
def completion_pictures(models: dict, images: torch.Tensor, sides) -> dict[str, list[str]]:
    """Completions of ``images`` ``(N, C, H, W)`` with each of ``models`` from each of ``sides``.

    ``models`` maps a short key (``"bottom"``, ``"any"``) to a completion model. Returns
    ``{"original": [uri, ...], "<key>-<side>": [uri, ...], ...}``, N data URIs each, the page
    data of one data set for :func:`chooser_html`.
    """
    entry = {"original": [data_uri(image) for image in images]}
    for side in sides:
        hidden = occlude(images, side)[0]
        for key, model in models.items():
            entry[f"{key}-{side}"] = [data_uri(image) for image in model(hidden)]
    return entry


def chooser_html(page_data: dict, names: dict, sides, *, selected: str | None = None,
                 labels=None, size: int = 128, uid: str | None = None) -> str:
    """A self-contained HTML fragment: choose a data set, a side and an image; see completions.

    ``page_data`` maps a data set to its :func:`completion_pictures`; ``names`` maps it to the
    name shown. ``labels`` maps each model key to its caption (default: the key). The occluded
    picture is the original with a black panel over the hidden ``side``; a model that a data set
    lacks is hidden. ``selected`` is the side shown first (default: the first of ``sides``).
    Pictures are shown ``size`` pixels wide with square pixels.
    """
    if not page_data:
        raise ValueError("page_data is empty: give the pictures of at least one data set")
    uid = uid or "chooser-" + uuid.uuid4().hex[:8]  # unique ids: a page may hold several
    keys = list(dict.fromkeys(key.split("-")[0] for entry in page_data.values()
                              for key in entry if key != "original"))
    labels = {key: key for key in keys} | dict(labels or {})
    n_images = max(len(entry["original"]) for entry in page_data.values())
    panel = f"<div id='{uid}-panel' style='position:absolute;background:#000'></div>"
    figures = (_figure(uid, "original", "original", size)
               + _figure(uid, "occluded", "occluded", size, panel)
               + "".join(_figure(uid, key, html.escape(labels[key]), size) for key in keys))
    datasets = "".join(f"<option value='{n}'>{html.escape(names[n])}</option>" for n in page_data)
    selected = selected or sides[0]
    side_options = "".join(f"<option{' selected' if s == selected else ''}>{s}</option>"
                           for s in sides)
    controls = (f"<label>data <select id='{uid}-data'>{datasets}</select></label> "
                f"<label>hide <select id='{uid}-side'>{side_options}</select></label> "
                f"<label>image <input id='{uid}-image' type='range' min='0' "
                f"max='{n_images - 1}' value='0'></label> <span id='{uid}-n'></span>")
    # DATA last: the base64 of the pictures may contain the other words
    script = (_SCRIPT.replace("UID", uid).replace("SIZE", str(size))
              .replace("KEYS", json.dumps(keys))
              .replace("DATA", json.dumps(page_data, separators=(",", ":"))))
    return (f"<div style='margin:1em 0'><p>{controls}</p><div>{figures}</div>"
            f"<script>{script}</script></div>")


def _figure(uid, key, label, size, panel=""):
    img = (f"width:{size}px;height:{size}px;image-rendering:pixelated;"
           "border:1px solid #ccc;display:block")
    return (f"<div id='{uid}-{key}-box' "
            "style='display:inline-block;margin-right:1em;text-align:center'>"
            f"<div style='position:relative'><img id='{uid}-{key}' alt='{label}' "
            f"style='{img}'>{panel}</div>{label}</div>")


_SCRIPT = """
(function () {
  const data = DATA, uid = "UID", size = SIZE, keys = KEYS;
  const $ = (key) => document.getElementById(uid + "-" + key);
  const panels = {top: [0, 0, 1, 0.5], bottom: [0, 0.5, 1, 0.5],
                  left: [0, 0, 0.5, 1], right: [0.5, 0, 0.5, 1]};
  function show() {
    const set = data[$("data").value], side = $("side").value;
    const i = Math.min(+$("image").value, set.original.length - 1);
    $("original").src = $("occluded").src = set.original[i];
    for (const how of keys) {
      const pictures = set[how + "-" + side];
      $(how + "-box").style.display = pictures ? "inline-block" : "none";
      if (pictures) $(how).src = pictures[i];
    }
    const [x, y, w, h] = panels[side], panel = $("panel").style;
    panel.left = x * size + 1 + "px"; panel.top = y * size + 1 + "px";
    panel.width = w * size + "px"; panel.height = h * size + "px";
    $("n").textContent = (i + 1) + " of " + set.original.length;
  }
  for (const key of ["data", "side", "image"]) $(key).addEventListener("input", show);
  show();
})();"""
