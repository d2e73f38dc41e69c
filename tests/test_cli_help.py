"""Every command's options and arguments explain themselves; --version; `models list`."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from latentreel.cli import app

runner = CliRunner()


def _leaves(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _leaves(sub, path + (name,))
    else:
        yield " ".join(path), command


def test_every_parameter_has_help():
    missing = [f"{path} {param.name}" for path, command in _leaves(typer.main.get_command(app))
               for param in command.params if param.name != "help" and not param.help]
    assert missing == []


def test_device_is_worded_one_way():
    wordings = {param.help for _, command in _leaves(typer.main.get_command(app))
                for param in command.params if param.name == "device"}
    # bench ray runs on CPUs or CUDA only, and says so in its own words
    assert len(wordings - {"auto | cpu | cuda"}) == 1, wordings


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("latentreel ")


def test_models_list_is_the_models_listing():
    listed, plain = runner.invoke(app, ["models", "list"]), runner.invoke(app, ["models"])
    assert listed.exit_code == 0 and listed.output == plain.output
    assert "dcgan-digiface (default)" in listed.output
