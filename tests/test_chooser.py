"""imgen.chooser: the inpainting chapter's side chooser as a static page fragment."""

import base64
import json
import re

import pytest
import torch

from imgen import chooser
from imgen.viz import to_png


def test_data_uri_holds_the_png():
    image = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(0))
    uri = chooser.data_uri(image)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == to_png(image)


class Fill(torch.nn.Module):
    """A stand-in completion model: paints every pixel with one value."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full_like(x, self.value)


def test_completion_pictures_has_every_model_and_side():
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    entry = chooser.completion_pictures({"bottom": Fill(0.0), "any": Fill(1.0)}, images,
                                        ["top", "left"])
    assert sorted(entry) == ["any-left", "any-top", "bottom-left", "bottom-top", "original"]
    assert all(len(uris) == 3 for uris in entry.values())
    assert entry["any-top"][0] == chooser.data_uri(torch.ones(1, 8, 8))


def _page(**kwargs):
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    data = {"mnist": chooser.completion_pictures({"bottom": Fill(0.0), "any": Fill(1.0)},
                                                  images, ["top", "bottom", "left", "right"])}
    return data, chooser.chooser_html(data, {"mnist": "MNIST"}, ["top", "bottom", "left", "right"],
                                      **kwargs)


def test_chooser_html_carries_every_picture_once_and_loads_nothing():
    data, page = _page(uid="x1")
    for uris in data["mnist"].values():
        for uri in uris:
            assert uri in page
    assert "src=\"http" not in page and "src='http" not in page
    script = re.search(r"const data = (\{.*?\}), uid", page, re.S).group(1)
    assert json.loads(script) == data


def test_chooser_html_shows_the_chosen_side_and_the_models_in_order():
    _, page = _page(uid="x2", selected="left",
                    labels={"bottom": "trained on bottom", "any": "trained on any side"})
    assert "<option selected>left</option>" in page
    assert page.index("trained on bottom") < page.index("trained on any side")
    assert "max='1'" in page  # two images: the slider goes 0..1


def test_two_choosers_on_one_page_do_not_share_ids():
    assert _page()[1] != _page()[1]


def test_chooser_html_needs_pictures():
    with pytest.raises(ValueError, match="page_data is empty"):
        chooser.chooser_html({}, {}, ["top"])
