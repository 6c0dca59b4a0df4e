"""The browser as a device: serve the web page locally (`trm-edge web`).

The page (package data trm_edge/web_demo/: index.html, plain ES modules, package-lock.json) runs
looped artifacts with onnxruntime-web and LiteRT.js. Those npm runtimes are not in the wheel: on
first use `npm ci` installs them from the packaged package-lock.json into the user cache
(trm_edge.package_data.cache_dir()/web-runtimes/<lock digest>/), served at the page's node_modules/.
The page's artifacts (assets/trm/) come from a web project folder (`--app-dir`, where
`trm-edge export --for-app web` installs them, trm_edge.apps), else from the bundled model's
ready-made ONNX + TFLite artifacts, installed into the user cache.

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
import hashlib
import http.server
import os
import posixpath
import shutil
import subprocess
import threading
import urllib.parse
from pathlib import Path

from .. import package_data
from ..checkpoint import atomic_write_dir
from ..errors import TRMEdgeError

PAGE = "web_demo"   # package data: the page
RUNTIMES = ("onnxruntime-web", "@litertjs/core")  # npm packages the page imports
NPM_HINT = "install Node.js 20 + npm (Debian: apt-get install nodejs npm; macOS: brew install node)"
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def page_dir() -> Path:
    return package_data.path(PAGE)


def runtimes_dir() -> Path:
    """The cache folder holding node_modules/ for the packaged package-lock.json (one per lock)."""
    digest = hashlib.sha256((page_dir() / "package-lock.json").read_bytes()).hexdigest()[:16]
    return package_data.cache_dir() / "web-runtimes" / digest


def _installed(d: Path) -> bool:
    return all((d / "node_modules" / p / "package.json").is_file() for p in RUNTIMES)


def runtimes_missing() -> str | None:
    """None when the page's runtimes are installed or npm is here to install them, else why not."""
    if _installed(runtimes_dir()) or shutil.which("npm"):
        return None
    return f"the web page's runtimes ({', '.join(RUNTIMES)}) are installed with npm: {NPM_HINT}"


def install_runtimes(log=None) -> Path:
    """`npm ci` the page's pinned runtimes into the cache (once per package-lock.json); -> node_modules.
    `log` gets one line when it installs (`trm-edge web`, `trm-edge bench --device chromium`)."""
    d = runtimes_dir()
    if _installed(d):
        return d / "node_modules"
    why = runtimes_missing()
    if why:
        raise TRMEdgeError(why)
    npm = shutil.which("npm")
    if log:
        log(f"installing the web page's runtimes ({', '.join(RUNTIMES)}): npm ci into {d} ...")

    def write(tmp: Path):
        for f in ("package.json", "package-lock.json"):
            shutil.copyfile(page_dir() / f, tmp / f)
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=tmp,
                           capture_output=True, text=True)
        if r.returncode != 0 or not _installed(tmp):
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise TRMEdgeError(f"npm ci of the web runtimes failed (npm registry reachable?): {last}")

    atomic_write_dir(d, write)
    return d / "node_modules"


def check_page() -> Path:
    """The page folder, with its npm runtimes installed in the cache, or one clear error."""
    if not _installed(runtimes_dir()):
        raise TRMEdgeError(f"{', '.join(RUNTIMES)} not installed in {runtimes_dir()} "
                           "(trm_edge.apps.web.install_runtimes: npm ci from the packaged package-lock.json)")
    return page_dir()


def default_assets(app_dir=None) -> Path:
    """The page's assets/trm/: the web project's (`app_dir`, or the checkout's demo), else the bundled
    model's ready-made ONNX + TFLite artifacts installed into the cache."""
    from .. import apps

    if app_dir is not None or package_data.checkout() is not None:
        return apps.assets_dir("web", app_dir)
    from ..checkpoint import bundled_artifacts

    arts = [a for a in bundled_artifacts() if a.name.split("-")[0] in apps.targets_for("web")]
    return apps.install(arts, "web", package_data.cache_dir() / "web-app", n_puzzles=12)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the isolation headers; URL prefixes in `mounts` map to other folders."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                      ".json": "application/json", ".onnx": "application/octet-stream",
                      ".tflite": "application/octet-stream"}

    def __init__(self, *args, mounts: dict[str, Path], quiet: bool, **kw):
        self.mounts, self.quiet = mounts, quiet
        super().__init__(*args, **kw)

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):   # the client left mid-file: nothing to report
            pass

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


def make_server(host: str = "127.0.0.1", port: int = 8000,
                mounts: dict[str, str | os.PathLike] | None = None, quiet: bool = False):
    """A ThreadingHTTPServer for the page (port 0: any free port). URL = http://host:port/index.html.
    The runtimes are served at node_modules/; `mounts` adds URL prefix -> folder (e.g. assets/trm)."""
    root = check_page()
    mounts = {"node_modules": runtimes_dir() / "node_modules", **(mounts or {})}
    mounts = {("/" + k.strip("/") + "/"): Path(v).resolve() for k, v in mounts.items()}
    handler = functools.partial(_Handler, directory=str(root), mounts=mounts, quiet=quiet)
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        raise TRMEdgeError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None


def page_url(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/index.html"


@contextlib.contextmanager
def serving(mounts=None):
    """Serve the page on a free local port in a background thread; yields the page URL."""
    server = make_server(port=0, mounts=mounts, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield page_url(server)
    finally:
        server.shutdown()
        server.server_close()
