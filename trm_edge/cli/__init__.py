"""`trm-edge` command line. It only parses arguments and calls the library.

Each verb is a small click command, one module per family of verbs (train, run, export, bench, web)
on the group of `_group`, with the option types and options they share; errors derived from
TRMEdgeError / PuzzleError become one line on stderr and exit code 2 (see `main`).
"""
from __future__ import annotations

import sys

import click

from ..errors import TRMEdgeError, extra_for, held_warnings
from ..tasks.base import PuzzleError
from . import bench, export, run, train, web  # noqa: F401  (their commands register on the group)
from ._group import cli

__all__ = ["cli", "main"]


def main(argv=None):
    try:
        with held_warnings(drop_on=(click.ClickException, TRMEdgeError, PuzzleError)):   # an error is one line
            cli.main(args=argv, standalone_mode=False, obj={"argv": list(sys.argv[1:] if argv is None else argv)})
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:   # usage errors too: one line, exit 2
        ctx = getattr(e, "ctx", None)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        click.echo(f"error: {' '.join(e.format_message().split())}{hint}", err=True)
        sys.exit(2)
    except (TRMEdgeError, PuzzleError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except OSError as e:   # the environment (a full disk, a file that vanished): one line, not a traceback
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        click.echo(f"error: cannot access{where}: {e.strerror or e}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as e:   # a heavy dependency imported outside errors.require
        name = (e.name or "").split(".")[0]
        extra = extra_for(name)
        if extra is None:
            raise
        click.echo(f"error: this command needs {name}; install it with: pip install 'trm-edge[{extra}]'", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
