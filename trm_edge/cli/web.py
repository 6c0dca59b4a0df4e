"""`trm-edge web`: serve the web page locally."""
from __future__ import annotations

import click

from ._group import DIR, cli, opt


@cli.command()
@opt("--host", default="127.0.0.1", help="Interface to listen on.")
@opt("--port", default=8000, type=click.IntRange(0, 65535), help="0: any free port.")
@opt("--app-dir", type=DIR,
     help="Web project whose assets/trm/ the page shows (export --for-app web --app-dir); default: the "
          "checkout's trm_edge/web_demo, else the bundled model's ready-made artifacts.")
def web(host, port, app_dir):
    """Serve the web page locally (cross-origin isolated, for WebAssembly threads) and print its URL.

    The page's npm runtimes are installed on first use (npm ci, pinned) into the user cache."""
    from ..apps.web import default_assets, install_runtimes, make_server, page_dir, page_url

    install_runtimes(log=lambda m: click.echo(m, err=True))
    assets = default_assets(app_dir)
    server = make_server(host=host, port=port, mounts={"assets/trm": assets})
    click.echo(f"serving {page_dir()} with artifacts from {assets} at {page_url(server)} (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
