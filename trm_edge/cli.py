"""`trm-edge` command line. It only parses arguments and calls the library.

Each verb is a small click command; errors derived from TRMEdgeError / PuzzleError become one line
on stderr and exit code 2 (see `main`).
"""
from __future__ import annotations

import sys

import click

from .errors import TRMEdgeError
from .tasks.base import PuzzleError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trm-edge")
def cli():
    """Tiny Recursive Models: train, export, benchmark, embed."""


def pick_device(device: str | None) -> str:
    """--device autodetect: cuda, then mps, then cpu."""
    import torch

    if device and device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


# ---- commands (one block per verb; keep each thin) -----------------------------------------


def main(argv=None):
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (TRMEdgeError, PuzzleError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
