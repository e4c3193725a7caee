"""Copy the browser-side files the website needs into book/_static/vendor/.

The website must work with no network: the saved ipywidgets are drawn by the
Jupyter widgets HTML manager, which we serve from the site itself instead of a
CDN (MathJax comes from the sphinx-mathjax-offline package, pinned in
requirements-lock.txt). This script fetches the pinned npm packages with
`npm pack`, copies the files the pages load and their licences, and records
the versions in book/_static/vendor/VERSIONS.txt. Run it only to move to new
versions, then rebuild the book and run `make check-site`:

    python tools/vendor_web_assets.py
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "book" / "_static" / "vendor"

# npm package -> (version, {file inside the package: destination name})
PACKAGES = {
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        # embed.js is the stand-alone manager (base, controls and output
        # widgets built in); Chromium and every current browser take the
        # woff2/woff fonts of its Font Awesome icons.
        {
            "dist/embed.js": "embed.js",
            "dist/embed.js.LICENSE.txt": "embed.js.LICENSE.txt",
        },
    ),
    "requirejs": ("2.3.8", {"require.js": "require.js"}),
}
FONT_SUFFIXES = (".woff2", ".woff")
SUBDIR = {"@jupyter-widgets/html-manager": "jupyter-widgets", "requirejs": "requirejs"}
LICENCES = {
    "@jupyter-widgets/html-manager": "BSD-3-Clause, Copyright (c) 2015 Project Jupyter Contributors",
    "requirejs": "MIT, Copyright jQuery Foundation and other contributors",
}


def main() -> None:
    lines = ["Files copied by tools/vendor_web_assets.py from these npm packages:", ""]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, files) in PACKAGES.items():
            out = (
                subprocess.run(
                    ["npm", "pack", "--silent", f"{name}@{version}"],
                    cwd=tmp,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            unpacked = Path(tmp) / (out + ".d")
            with tarfile.open(Path(tmp) / out) as tar:
                tar.extractall(unpacked, filter="data")
            pkg = unpacked / "package"
            dest = DEST / SUBDIR[name]
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            for src, target in files.items():
                shutil.copy2(pkg / src, dest / target)
            if name == "@jupyter-widgets/html-manager":
                for font in sorted((pkg / "dist").iterdir()):
                    if font.suffix in FONT_SUFFIXES:
                        shutil.copy2(font, dest / font.name)
            lines.append(f"{SUBDIR[name]}/: {name}@{version} ({LICENCES[name]})")
    (DEST / "VERSIONS.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
