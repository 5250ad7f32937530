"""The static files production serves (chatsite/storage.py): the project's scripts are
minified at collectstatic, import each other by hashed name, and render exactly as
their sources do."""

from __future__ import annotations

import functools
import http.server
import json
import posixpath
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.browser.test_markdown import SAMPLE, STATIC, TRICKY, XSS, _Handler

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "chatsite.storage.StaticStorage"},
}
# A module's static imports: `import … from "x"`, `import "x"`, `export … from "x"`,
# `import("x")`, minified or not.
IMPORTS = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([./][^"']+)["']""")


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> tuple[Path, dict[str, str]]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("collected")
    with override_settings(STATIC_ROOT=root, STORAGES=STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((root / "staticfiles.json").read_text())["paths"]
    return root, manifest


OURS = ["chat/chat.js", "chat/markdown.js", "chat/conversations.js", "chat/util.js"]
OURS += ["chat/errors.js", "review/review.js", "review/shortcuts.js"]


@pytest.mark.parametrize("name", OURS)
def test_a_script_is_served_minified_importing_hashed_names(collected, name):  # type: ignore[no-untyped-def]
    root, manifest = collected
    source = (STATIC / name).read_text()
    served = (root / manifest[name]).read_text()
    assert len(served) < 0.8 * len(source)  # comments and indentation gone
    assert "\n  " not in served and not re.search(r"^\s*//", served, re.MULTILINE)
    hashed = set(manifest.values())
    for spec in IMPORTS.findall(served):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(manifest[name]), spec))
        assert target in hashed, (name, spec)  # the immutable, hashed copy
    assert len(IMPORTS.findall(served)) == len(IMPORTS.findall(source)), name


def test_template_literals_are_kept_verbatim(collected):  # type: ignore[no-untyped-def]
    root, manifest = collected
    served = (root / manifest["chat/markdown.js"]).read_text()
    # A grammar is imported by a template literal: its text must survive as written.
    assert "`../vendor/highlight.js/es/languages/${name}.min.js`" in served


@pytest.fixture(scope="module")
def both(collected) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """A page importing markdown.js twice: from the sources and minified, as served."""
    root, manifest = collected
    site = root.parent / "both"
    site.mkdir()
    (site / "src").symlink_to(STATIC, target_is_directory=True)
    (site / "min").symlink_to(root, target_is_directory=True)
    (site / "page.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>both</title>'
        '<script type="module" src="/harness.js"></script></head>'
        '<body><div id="a" class="md"></div><div id="b" class="md"></div></body></html>'
    )
    (site / "harness.js").write_text(
        f'import * as src from "/src/chat/markdown.js";\n'
        f'import * as min from "/min/{manifest["chat/markdown.js"]}";\n'
        "window.compare = async (texts) => {\n"
        "  await src.preload(); await min.preload();\n"
        "  const a = document.getElementById('a'), b = document.getElementById('b');\n"
        "  const differ = [];\n"
        "  for (const t of texts) {\n"
        "    a.replaceChildren(src.renderMarkdown(t)); b.replaceChildren(min.renderMarkdown(t));\n"
        "    if (a.innerHTML !== b.innerHTML) differ.push(t);\n"
        "  }\n"
        "  return differ;\n"
        "};\n"
        "window.ready = true;\n"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = functools.partial(_Handler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}", manifest["chat/markdown.js"]
    httpd.shutdown()
    httpd.server_close()


def test_the_minified_markdown_renders_as_its_source(both, browser):  # type: ignore[no-untyped-def]
    url, hashed = both
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    loaded: list[str] = []
    page.on("response", lambda r: loaded.append(r.url))
    page.goto(url + "/page.html")
    page.wait_for_function("window.ready === true")
    assert page.evaluate("(texts) => window.compare(texts)", [SAMPLE, *TRICKY, *XSS]) == []
    assert errors == []
    # The minified module and the libraries it imports, by their hashed names.
    assert any(u.endswith("/min/" + hashed) for u in loaded)
    assert any(re.search(r"/min/vendor/marked/marked\.esm\.[0-9a-f]{12}\.js$", u) for u in loaded)
    page.close()
