"""The browser as a device: serve `web_demo/` locally (`trm-edge web`).

The page (web_demo/index.html, plain ES modules) runs looped artifacts with onnxruntime-web and
LiteRT.js, both installed by `npm ci` into web_demo/node_modules and served from the page's own
folder. `trm-edge export --for-app web` installs artifacts into web_demo/assets/trm/ (trm_edge.apps).

WebAssembly threads need SharedArrayBuffer, which browsers only give a cross-origin isolated page,
so every response carries COOP `same-origin` + COEP `require-corp` (and CORP `same-origin`).
Extra folders can be mounted under URL prefixes (the tests and the chromium bench serve exported
artifacts from where they are, without copying them into the page).

Only the page's files are served: no directory listings, no dotfiles or dot-folders
(`.package-lock.json`, `.git/`), nothing whose real path (symlinks resolved) leaves the page's
folder or a mount; everything else is a 404.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import posixpath
import threading
import urllib.parse
from pathlib import Path

from .errors import TRMEdgeError

REPO_ROOT = Path(__file__).resolve().parents[1]
WEB_DIR = REPO_ROOT / "web_demo"
RUNTIMES = ("onnxruntime-web", "@litertjs/core")  # npm packages the page imports
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def check_page(root: Path = WEB_DIR) -> Path:
    """The page folder with its npm packages installed, or one clear error."""
    if not (root / "index.html").is_file():
        raise TRMEdgeError(f"{root} has no index.html: the web demo lives in a clone of trm-edge (web_demo/)")
    missing = [p for p in RUNTIMES if not (root / "node_modules" / p / "package.json").is_file()]
    if missing:
        raise TRMEdgeError(f"{', '.join(missing)} not installed in {root}: run `npm ci` in {root} (npm registry, pinned "
                           "by package-lock.json)")
    return root


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the isolation headers; URL prefixes in `mounts` map to other folders."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                      ".json": "application/json", ".onnx": "application/octet-stream",
                      ".tflite": "application/octet-stream"}

    def __init__(self, *args, mounts: dict[str, Path], quiet: bool, **kw):
        self.mounts, self.quiet = mounts, quiet
        super().__init__(*args, **kw)

    def translate_path(self, path: str) -> str:
        url = posixpath.normpath(urllib.parse.unquote(urllib.parse.urlsplit(path).path))
        for prefix, folder in self.mounts.items():
            if url.startswith(prefix):
                rel = url[len(prefix):].lstrip("/")
                parts = [p for p in rel.split("/") if p not in ("", ".", "..")]
                return str(folder.joinpath(*parts))
        return super().translate_path(path)

    def send_head(self):
        url = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        path = Path(self.translate_path(self.path))
        roots = [Path(self.directory).resolve(), *self.mounts.values()]
        real = path.resolve()
        if (any(part.startswith(".") for part in url.split("/") if part)
                or not any(real == r or r in real.parents for r in roots)
                or (real.is_dir() and not (real / "index.html").is_file())):
            self.send_error(404, "not found")
            return None
        return super().send_head()

    def list_directory(self, path):   # never reached (send_head refuses folders without index.html)
        self.send_error(404, "not found")
        return None

    def end_headers(self):
        for k, v in ISOLATION_HEADERS.items():
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, fmt, *args):
        if not self.quiet:
            super().log_message(fmt, *args)


def make_server(root: Path = WEB_DIR, host: str = "127.0.0.1", port: int = 8000,
                mounts: dict[str, str | os.PathLike] | None = None, quiet: bool = False):
    """A ThreadingHTTPServer for the page (port 0: any free port). URL = http://host:port/index.html."""
    root = check_page(Path(root))
    mounts = {("/" + k.strip("/") + "/"): Path(v).resolve() for k, v in (mounts or {}).items()}
    handler = functools.partial(_Handler, directory=str(root), mounts=mounts, quiet=quiet)
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        raise TRMEdgeError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None


def page_url(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/index.html"


@contextlib.contextmanager
def serving(root: Path = WEB_DIR, mounts=None):
    """Serve the page on a free local port in a background thread; yields the page URL."""
    server = make_server(root, port=0, mounts=mounts, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield page_url(server)
    finally:
        server.shutdown()
        server.server_close()
