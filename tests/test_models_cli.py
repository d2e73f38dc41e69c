"""`latentreel models` and `latentreel models pull`, driven through the CLI."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import ModelError
from tests.test_stylegan2_pull import FileServer
from tests.test_stylegan2_rosinality import as_rosinality, random_net


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def _checkpoint_bytes() -> bytes:
    buf = io.BytesIO()
    net = random_net()
    torch.save({"g_ema": as_rosinality(net), "latent_avg": net.mapping.w_avg}, buf)
    return buf.getvalue()


def test_models_lists_backends_sources_and_install_state(cache):
    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 0, r.output
    assert "dcgan-digiface (default)" in r.output
    assert "ffhq-1024: StyleGAN2, FFHQ faces (aligned), 1024x1024" in r.output
    assert ("stylegan2-ffhq-1024x1024.pkl (latentreel models pull ffhq-1024) [NOT installed]"
            in r.output)
    assert f"Downloads go to {cache}" in r.output


def test_pull_any_url_then_use_it_by_name(cache):
    from latentreel.models.registry import load_generator
    from latentreel.models.stylegan2.backend import StyleGAN2Generator

    data = _checkpoint_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with FileServer(data, path="/tiny.pt") as srv:
        r = CliRunner().invoke(app, ["models", "pull", "tiny", "--url", srv.url,
                                     "--sha256", sha, "--no-progress"])
    assert r.exit_code == 0, r.output
    assert f"tiny: downloaded {len(data)} bytes to {cache / 'tiny.pt'}" in r.output
    assert f"sha256 {sha}" in r.output
    listing = CliRunner().invoke(app, ["models"]).output
    assert "tiny: pulled with --url" in listing and "[installed]" in listing
    g = load_generator("tiny", "cpu")
    assert isinstance(g, StyleGAN2Generator) and g.resolution == 32
    again = CliRunner().invoke(app, ["models", "pull", "tiny", "--url", "http://127.0.0.1:1/x.pt"])
    assert again.exit_code == 0 and "already installed" in again.output


def test_a_catalog_model_is_installed_and_loadable_after_pull(cache, monkeypatch):
    from latentreel.models.registry import MODELS, load_generator
    from latentreel.models.stylegan2.catalog import CATALOG, CatalogEntry

    data = _checkpoint_bytes()
    with FileServer(data, path="/ffhq.pt") as srv:
        monkeypatch.setitem(CATALOG, "ffhq-256", CatalogEntry("ffhq-256", srv.url, 256, "t"))
        assert not MODELS["ffhq-256"].installed()
        with pytest.raises(ModelError, match="run: latentreel models pull ffhq-256"):
            load_generator("ffhq-256", "cpu")
        r = CliRunner().invoke(app, ["models", "pull", "ffhq-256", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert MODELS["ffhq-256"].installed()
    assert load_generator("ffhq-256", "cpu").name == "ffhq-256"


@pytest.mark.parametrize("args,message", [
    (["models", "pull", "nosuch"], "error: unknown model 'nosuch'; known: ffhq-1024"),
    (["models", "pull", "x", "--url", "http://127.0.0.1:1/x.pkl"], "error: could not download"),
    (["models", "pull", "x", "--url", "http://127.0.0.1:1/x.pkl", "--sha256", "12"],
     "error: --sha256 12: expected 64 hexadecimal digits"),
], ids=["unknown", "unreachable", "bad-hash"])
def test_pull_errors_exit_2_with_one_line(cache, args, message):
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output
