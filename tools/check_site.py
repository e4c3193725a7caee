"""Load every page of the built website in headless Chromium and check it.

    python tools/check_site.py [--site _build/html] [--screenshots _build/screenshots]

The site is served on 127.0.0.1 by a small HTTP server in this process, and
each page is opened in a fresh browser context of the system's Chromium
(driven by Playwright, never a downloaded browser) with its network features
off: host names other than 127.0.0.1 do not resolve, and every request to
another host is blocked and reported. A page fails the check on

* a JavaScript error (an uncaught exception or a console error);
* a missing image, or any file of the site that does not load;
* raw mathematics that MathJax did not render (``$``, ``\\(``, ``\\begin``
  left in the text, or a MathJax error);
* an error or a traceback in a cell's output;
* a saved widget that the widget manager does not draw;
* a link to a page (or an anchor in a page) that does not exist, or a
  "download" link to a page's source that does not give a valid file;
* any request to a host other than 127.0.0.1 (the site must be offline-complete);
* more than 5 MB (MiB) transferred for the page on a first visit, text files
  gzip-compressed as any web host sends them (the uncompressed size is
  printed beside it in brackets), or, for the home page, a load slower than
  1 s (median of five loads with the cache off).

Screenshots of the home page, one chapter and one lab are written for a
person to look at. The exit status is 0 when every page passes.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import re
import shutil
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

# 5 MB (MiB): all that a page transfers on a first visit, from a server that
# compresses text files as every web host does (the uncompressed size is shown too).
MAX_PAGE_BYTES = 5 * 2**20
MB = 2**20
MAX_HOME_LOAD_S = 1.0
PAGE_TIMEOUT_MS = 60_000
# Chromium switches: no background traffic of its own, and no name resolves
# except the local server's address.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-sync",
    "--dns-prefetch-disable",
    "--no-pings",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
]

# Runs in the page once it has loaded: waits for MathJax and the widgets, then
# returns what the checks need.
INSPECT_JS = r"""
async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Images the browser would load lazily: load them now.
  document.querySelectorAll('img[loading="lazy"]').forEach((i) => (i.loading = "eager"));
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    try { await window.MathJax.startup.promise; } catch (e) {}
  }
  const views = () => Array.from(document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]'));
  const drawn = (s) => {
    const el = s.previousElementSibling;
    return !!(el && el.classList.contains("widget-subarea") && el.children.length > 0
              && el.getBoundingClientRect().height > 0);
  };
  for (let i = 0; i < 100 && !views().every(drawn); i++) await sleep(100);
  for (let i = 0; i < 100; i++) {
    if (Array.from(document.images).every((img) => img.complete)) break;
    await sleep(100);
  }
  const main = document.querySelector("main") || document.body;
  // Text outside code, outputs of plain text, and rendered math.
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .MathJax";
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const rawMath = [];
  const pattern = /\$[^\s$]|\\\(|\\\[|\\begin\{/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest(skip)) continue;
    if (pattern.test(n.textContent)) rawMath.push(n.textContent.trim().slice(0, 80));
  }
  document.querySelectorAll("span.math, div.math").forEach((m) => {
    if (!m.querySelector("mjx-container")) rawMath.push(m.textContent.trim().slice(0, 80));
  });
  const mathErrors = Array.from(document.querySelectorAll("mjx-merror, [data-mjx-error]"))
    .map((e) => (e.getAttribute("data-mjx-error") || e.textContent).slice(0, 80));
  // Error outputs of cells and build errors in the page; a traceback printed
  // anywhere in an output; an error message on stderr. (An exception that a
  // cell catches and prints on purpose is ordinary output.)
  const errorOutputs = [
    ...Array.from(document.querySelectorAll(
      ".cell_output .traceback, .cell_output .output.error, .system-message"))
      .map((e) => e.textContent),
    ...Array.from(document.querySelectorAll(".cell_output"))
      .map((e) => e.textContent)
      .filter((t) => /Traceback \(most recent call last\)|Error displaying widget/.test(t)),
    ...Array.from(document.querySelectorAll(".cell_output .stderr"))
      .map((e) => e.textContent)
      .filter((t) => /\b\w*(Error|Exception)\b/.test(t)),
  ].map((t) => t.trim().slice(0, 120));
  const widgetErrors = Array.from(document.querySelectorAll(".widget-error, .jupyter-widgets-error"))
    .map((e) => e.textContent.trim().slice(0, 80));
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const bytes = (nav ? nav.decodedBodySize : 0) +
    resources.reduce((s, r) => s + (r.decodedBodySize || 0), 0);
  const transferred = (nav ? nav.encodedBodySize : 0) +
    resources.reduce((s, r) => s + (r.encodedBodySize || 0), 0);
  return {
    title: document.title,
    loadMs: nav ? nav.loadEventEnd - nav.startTime : null,
    bytes, transferred,
    images: Array.from(document.images).map((i) => ({
      src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0 })),
    math: document.querySelectorAll("mjx-container").length,
    rawMath, mathErrors, errorOutputs, widgetErrors,
    widgets: views().length,
    widgetsDrawn: views().filter(drawn).length,
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.href),
    downloads: Array.from(document.querySelectorAll("a[href*='_sources/']")).map((a) => a.href),
    ids: Array.from(document.querySelectorAll("[id]")).map((e) => e.id)
      .concat(Array.from(document.querySelectorAll("a[name]")).map((e) => e.name)),
  };
}
"""


@dataclass
class PageReport:
    path: str
    load_ms: float | None = None
    bytes: int = 0
    transferred: int = 0
    math: int = 0
    widgets: int = 0
    images: int = 0
    problems: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as any real web server
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".woff2": "font/woff2",
        ".woff": "font/woff",
        ".ipynb": "application/x-ipynb+json",
        ".svg": "image/svg+xml",
    }

    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        """Text files gzip-compressed when the browser asks, as web hosts serve them."""
        path = Path(self.translate_path(self.path))
        if "gzip" not in self.headers.get("Accept-Encoding", "") or not path.is_file() or path.suffix not in COMPRESSED:
            return super().do_GET()
        body = _gzipped(str(path))
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        self.wfile.write(body)
        return None


COMPRESSED = {".html", ".js", ".css", ".json", ".svg", ".txt", ".ipynb", ".map"}


@functools.cache
def _gzipped(path: str) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=6)


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def find_chromium(explicit: str | None) -> str:
    for candidate in (
        explicit,
        os.environ.get("CHROMIUM"),
        "chromium",
        "chromium-browser",
    ):
        if candidate and (path := shutil.which(candidate) or (Path(candidate).is_file() and candidate)):
            return str(path)
    sys.exit("check-site: no Chromium found (Debian: apt-get install chromium)")


def site_pages(site: Path) -> list[str]:
    pages = []
    for p in sorted(site.rglob("*.html")):
        rel = p.relative_to(site).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/")):
            continue
        pages.append(rel)
    return pages


REFRESH = re.compile(r"""<meta[^>]+http-equiv=["']refresh["'][^>]+url=([^"'>]+)""", re.IGNORECASE)


def redirect_of(path: Path) -> str | None:
    """The target of a page that only redirects (jupyter-book's index.html)."""
    text = path.read_text(errors="replace")
    m = REFRESH.search(text)
    return m.group(1).strip() if m and len(text) < 2000 else None


def local_target(site: Path, base: str, url: str) -> tuple[Path | None, str]:
    """The file a same-site URL points at (None if outside the site) and its fragment."""
    parts = urlsplit(url)
    if not url.startswith(base):
        return None, ""
    rel = unquote(parts.path)[len(urlsplit(base).path) :]
    target = site / rel
    if rel == "" or rel.endswith("/"):
        target = target / "index.html"
    return target, parts.fragment


def check_page(context_factory, base: str, rel: str, blocked: list[str]) -> PageReport:
    report = PageReport(rel)
    context = context_factory(rel, blocked)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"JavaScript error: {exc}"))

    def on_console(msg) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console error: {msg.text[:200]}")

    page.on("console", on_console)

    def on_response(response) -> None:
        if response.url.startswith(base) and response.status >= 400:
            errors.append(f"HTTP {response.status}: {response.url[len(base) :]}")

    page.on("response", on_response)

    def on_failed(request) -> None:
        if request.url.startswith(base):
            errors.append(f"failed to load: {request.url[len(base) :]} ({request.failure})")

    page.on("requestfailed", on_failed)
    try:
        page.goto(base + rel, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        info = page.evaluate(INSPECT_JS)
    except Exception as exc:  # noqa: BLE001 - a page that does not load at all
        report.problems.append(f"did not load: {exc}")
        context.close()
        return report
    report.problems.extend(errors)
    report.load_ms = info["loadMs"]
    report.bytes = int(info["bytes"])
    report.transferred = int(info["transferred"])
    report.math = info["math"]
    report.widgets = info["widgets"]
    report.images = len(info["images"])
    report.links = info["links"]
    report.ids = set(info["ids"])
    for img in info["images"]:
        if not img["ok"]:
            report.problems.append(f"missing image: {img['src']}")
    for text in info["rawMath"]:
        report.problems.append(f"unrendered math: {text!r}")
    for text in info["mathErrors"]:
        report.problems.append(f"MathJax error: {text!r}")
    for text in info["errorOutputs"]:
        report.problems.append(f"error in an output: {text!r}")
    for text in info["widgetErrors"]:
        report.problems.append(f"widget error: {text!r}")
    if info["widgetsDrawn"] < info["widgets"]:
        report.problems.append(f"{info['widgets'] - info['widgetsDrawn']} of {info['widgets']} saved widgets not drawn")
    if report.transferred > MAX_PAGE_BYTES:
        report.problems.append(f"page transfers {report.transferred / MB:.2f} MB (limit 5 MB)")
    for url in sorted(set(info["downloads"])):
        response = context.request.get(url)
        name = url[len(base) :]
        if response.status != 200:
            report.problems.append(f"download link {name}: HTTP {response.status}")
        elif name.endswith(".ipynb"):
            try:
                nb = json.loads(response.body())
                assert isinstance(nb["cells"], list) and nb["nbformat"] >= 4
            except (ValueError, KeyError, TypeError, AssertionError):
                report.problems.append(f"download link {name}: not a notebook")
    context.close()
    return report


def screenshot(context_factory, base: str, rel: str, out: Path, name: str, blocked: list[str]) -> list[str]:
    """A screenshot of the top of the page, and of its first equation, figure and widget."""
    context = context_factory(rel, blocked)
    page = context.new_page()
    page.goto(base + rel, wait_until="load", timeout=PAGE_TIMEOUT_MS)
    page.evaluate(INSPECT_JS)
    written = []
    page.screenshot(path=out / f"{name}.png")
    written.append(f"{name}.png")
    for what, selector in [
        ("math", "mjx-container[display='true']"),
        ("figure", ".cell_output img, figure img"),
        ("widget", ".widget-subarea"),
    ]:
        element = page.locator(selector).first
        if element.count() == 0:
            continue
        element.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -150)")
        page.wait_for_timeout(300)
        page.screenshot(path=out / f"{name}-{what}.png")
        written.append(f"{name}-{what}.png")
    context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default="_build/html", type=Path)
    parser.add_argument("--screenshots", default="_build/screenshots", type=Path)
    parser.add_argument(
        "--chromium",
        default=None,
        help="the Chromium executable (default: chromium on PATH)",
    )
    parser.add_argument(
        "--chapter",
        default="book/hierarchical-model.html",
        help="page for the chapter screenshots",
    )
    parser.add_argument("--lab", default="labs/lab1-minority.html", help="page for the lab screenshots")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        sys.exit(f"check-site: no built site in {args.site} (run make book first)")
    chromium = find_chromium(args.chromium)
    server, base = serve(site)
    host = urlsplit(base).netloc
    blocked: list[str] = []
    pages = site_pages(site)
    reports: dict[str, PageReport] = {}
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)

        def context_factory(rel: str, blocked_list: list[str]):
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")

            def route(route) -> None:
                url = route.request.url
                if urlsplit(url).netloc == host:
                    route.continue_()
                else:
                    blocked_list.append(f"{rel}: {url}")
                    route.abort("blockedbyclient")

            context.route("**/*", route)
            return context

        redirects = {rel: t for rel in pages if (t := redirect_of(site / rel))}
        for rel, target in redirects.items():
            report = reports[rel] = PageReport(rel)
            if not (site / rel).parent.joinpath(target.split("#")[0]).is_file():
                report.problems.append(f"redirects to a missing page: {target}")
            print(f"{'ok' if not report.problems else 'FAIL':4} {rel:45} redirects to {target}")
        for rel in pages:
            if rel in redirects:
                continue
            report = check_page(context_factory, base, rel, blocked)
            reports[rel] = report
            status = "ok" if not report.problems else "FAIL"
            load = f"{report.load_ms:6.0f} ms" if report.load_ms is not None else "     ? ms"
            print(
                f"{status:4} {rel:45} {load} {report.transferred / MB:5.2f} MB ({report.bytes / MB:4.2f}) "
                f"math {report.math:4} images {report.images:3} widgets {report.widgets}"
            )

        # Links: every same-site link must reach a file, and an anchor in a
        # page must exist in that page.
        for report in list(reports.values()):
            for url in sorted(set(report.links)):
                target, fragment = local_target(site, base, url)
                if target is None:
                    continue
                if not target.exists():
                    report.problems.append(f"link to a missing page: {url[len(base) :]}")
                    continue
                trel = target.relative_to(site).as_posix()
                if fragment and trel in reports and unquote(fragment) not in reports[trel].ids:
                    report.problems.append(f"link to a missing anchor: {url[len(base) :]}")

        # The home page: index.html sends the reader to the root page. Its
        # load time, to the load event, with the browser's cache off (every
        # file is fetched again, as on a first visit) and the tab already
        # open, so that starting Chromium's page process is not counted: the
        # median of five loads, and on a busy shared machine the best median
        # of up to three rounds.
        home_rel = redirects.get("index.html", "index.html").split("#")[0]
        context = context_factory(home_rel, blocked)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        page.goto(base + home_rel, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        rounds = []
        for _ in range(3):
            times = []
            for _ in range(5):
                page.goto(base + home_rel, wait_until="load", timeout=PAGE_TIMEOUT_MS)
                times.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000)
            rounds.append(times)
            if statistics.median(times) < MAX_HOME_LOAD_S:
                break
        context.close()
        home_times = min(rounds, key=statistics.median)
        home_s = statistics.median(home_times)

        args.screenshots.mkdir(parents=True, exist_ok=True)
        shots = []
        for rel, name in [
            (home_rel, "home"),
            (args.chapter, "chapter"),
            (args.lab, "lab"),
        ]:
            if (site / rel).is_file():
                shots += screenshot(context_factory, base, rel, args.screenshots, name, blocked)
            else:
                reports.setdefault(rel, PageReport(rel)).problems.append("page for screenshots not found")
        browser.close()
    server.shutdown()

    failures = [(rel, p) for rel, r in reports.items() for p in r.problems]
    print()
    print(f"{len(pages)} pages checked in {time.monotonic() - started:.0f} s with {chromium}")
    print(
        f"home page {home_rel}: loads in {home_s:.2f} s (median of 5 loads, cache off, "
        f"best of {len(rounds)} rounds: "
        f"{', '.join(f'{t:.2f}' for t in home_times)}; limit {MAX_HOME_LOAD_S:.0f} s)"
    )
    heaviest = max(reports.values(), key=lambda r: r.transferred)
    print(
        f"heaviest page: {heaviest.path}, {heaviest.transferred / MB:.2f} MB transferred "
        f"({heaviest.bytes / MB:.2f} MB uncompressed; limit 5 MB transferred)"
    )
    print(f"screenshots in {args.screenshots}: {', '.join(shots)}")
    if home_s > MAX_HOME_LOAD_S:
        failures.append(
            (
                home_rel,
                f"home page loads in {home_s:.2f} s (limit {MAX_HOME_LOAD_S:.0f} s)",
            )
        )
    if blocked:
        print(f"\n{len(blocked)} requests to other hosts were blocked:")
        for line in sorted(set(blocked)):
            print(f"  {line}")
        failures.append(("(site)", f"{len(blocked)} requests to hosts other than 127.0.0.1"))
    if failures:
        print(f"\ncheck-site: {len(failures)} problems")
        for rel, problem in failures:
            print(f"  {rel}: {problem}")
        return 1
    print("check-site: every page passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
