"""The Typer application and the one place that turns errors into exit codes.

Exit codes: 0 success, 2 bad input (scene, photo, model file, options), 1 anything else.
Errors print one line (``error: ...``) and no traceback unless ``--debug`` is given. A reader
that stops early (``latentreel ... | head``) is not an error: the command ends quietly, with
click's exit code for a closed stdout (1).
"""

from __future__ import annotations

import os
import select
import sys

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from latentreel.errors import LatentreelError, printable

_state = {"debug": bool(os.environ.get("LATENTREEL_DEBUG"))}


class _ErrorHandlingGroup(TyperGroup):
    """Runs a command and maps latentreel's errors onto exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except LatentreelError as e:
            if _state["debug"]:
                raise
            typer.echo(f"error: {printable(str(e))}", err=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as e:  # a bug or an environment problem: exit 1, short message
            if _state["debug"] or (isinstance(e, BrokenPipeError) and _stdout_reader_gone()):
                raise  # typer's main turns a closed stdout into a quiet exit
            typer.echo(
                f"error: {type(e).__name__}: {printable(str(e), 300)} (run with --debug for the "
                "traceback)", err=True
            )
            raise typer.Exit(1) from None


def _stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it, rather than, say, ffmpeg's stdin."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # no fd (CliRunner), closed, or no poll()
        return False


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="Turn walks through a face GAN's latent space into videos.",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"latentreel {version('latentreel')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("latentreel (not installed; version unknown)")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print latentreel's version and exit."),
) -> None:
    if debug:
        _state["debug"] = True


def _register_commands() -> None:
    # Each module adds its commands to `app` when imported.
    import importlib

    for mod in ("render", "models", "faces", "edits", "analysis", "live", "music", "bench"):
        try:
            importlib.import_module(f"latentreel.cli.{mod}")
        except ModuleNotFoundError as e:
            if e.name != f"latentreel.cli.{mod}":
                raise


_register_commands()


def main() -> None:
    app(prog_name="latentreel")


if __name__ == "__main__":
    sys.exit(main())
