"""static/chat/markdown.js in Chromium: renders, stays safe, streams without long tasks.

The module and its vendored libraries are served from static/ by a small http.server on
127.0.0.1, with a strict Content-Security-Policy on the page (no inline script or style).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS

STATIC = Path(__file__).resolve().parents[2] / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'"
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>markdown.js</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/chat/chat.css">
<link rel="stylesheet" href="/static/chat/markdown.css">
<link rel="stylesheet" href="/page.css">
<script type="module" src="/harness.js"></script>
</head><body>
<main class="turn-assistant"><div id="out" class="answer"></div></main>
<div id="ref" class="md" hidden></div>
</body></html>
"""

PAGE_CSS = """
body { padding: 1.5rem; }
main { max-width: 820px; margin: 0 auto; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0f1115; --panel: #171a21; --text: #e6e8eb; --muted: #9aa1ab; --border: #2a2f3a; --accent: #6ea8fe; }
}
"""

HARNESS = r"""
import * as md from "/static/chat/markdown.js";

window.md = md;
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
const out = document.getElementById("out");

// Fetch and compile the lazy libraries (as chat.js does on Send) and lay out a formula, a code
// block and a table once: the first formula on a page costs Chromium a one-time font set-up.
const WARM = "warm $x^2$\n\n$$\\frac{a}{b}$$\n\n```python\nx = 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
const warmUp = async () => {
  await md.preload();
  out.replaceChildren(md.renderMarkdown(WARM));
  await new Promise((r) => setTimeout(r, 100));
  out.replaceChildren();
};

window.renderInto = async (text) => {
  out.replaceChildren(md.renderMarkdown(text));
  out.classList.add("md");
  await md.preload();
};

window.streamInto = (text, chunkMin, chunkMax) => new Promise((resolve) => {
  const view = md.createMarkdownView(out);
  let i = 0;
  let seed = 7;
  const next = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
  const pump = () => {
    if (i >= text.length) { view.finish().then(resolve); return; }
    const n = chunkMin + (next() % (chunkMax - chunkMin + 1));
    view.append(text.slice(i, i + n));
    i += n;
    setTimeout(pump, 0);
  };
  pump();
});

// Stream `text` in chunks of about `chunk` characters at `rate` chunks a second, recording long
// tasks; then compare with a one-shot render.
// The rendered HTML with the streamed view's .md-chunk boxes taken away (their blocks kept).
const flatHtml = (el) => {
  const copy = el.cloneNode(true);
  for (const box of copy.querySelectorAll(":scope > .md-chunk")) box.replaceWith(...box.childNodes);
  return copy.innerHTML;
};
const firstBlockOf = (el) => el.querySelector(":scope > .md-chunk > *") || el.firstElementChild;
window.streamTest = async (text, rate, chunk, warm = true) => {
  if (warm) await warmUp();
  const longtasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { longtasks.push(Math.round(e.duration)); window.longtaskAt = (window.longtaskAt || []).concat([[Math.round(e.startTime - t0), Math.round(e.duration), window.sentAt]]); }
  });
  observer.observe({ type: "longtask" });
  const view = md.createMarkdownView(out);
  let seed = 42;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const chunks = [];
  for (let i = 0; i < text.length;) {
    const n = 1 + Math.floor(rnd() * (2 * chunk - 1));
    chunks.push(text.slice(i, i + n));
    i += n;
  }
  const t0 = performance.now();
  let sent = 0;
  let firstBlock = null;
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(chunks.length, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (sent < due) view.append(chunks[sent++]);
      window.sentAt = sent;
      if (!firstBlock && out.textContent.length > 2000) firstBlock = firstBlockOf(out); // finished by then
      if (sent < chunks.length) setTimeout(tick, 4);
      else resolve();
    };
    tick();
  });
  const streamed = performance.now() - t0;
  await view.finish();
  const finished = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 200)); // let the observer deliver
  observer.disconnect();
  const ref = document.getElementById("ref");
  ref.replaceChildren(md.renderMarkdown(text));
  await md.preload();
  return {
    longtasks,
    chunks: chunks.length,
    streamedMs: Math.round(streamed),
    finishedMs: Math.round(finished),
    stats: { ...view.stats },
    sameText: out.textContent === ref.textContent,
    sameHtml: flatHtml(out) === ref.innerHTML,
    boxes: out.querySelectorAll(":scope > .md-chunk").length,
    boxStyle: out.querySelector(".md-chunk") ? getComputedStyle(out.querySelector(".md-chunk")).contentVisibility : null,
    outLength: out.textContent.length,
    elements: [out.querySelectorAll("*").length, ref.querySelectorAll("*").length],
    firstBlockKept: firstBlock !== null && firstBlock === firstBlockOf(out),
    math: out.querySelectorAll("math").length,
    code: out.querySelectorAll("code.hljs").length,
    tables: out.querySelectorAll("table").length,
  };
};
// A stored long answer shown with set() + finish(): rendered over several frames, no long task.
window.setTest = async (text) => {
  await warmUp();
  const longtasks = [];
  const at = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      longtasks.push(Math.round(e.duration));
      at.push(Math.round(e.startTime - t0));
    }
  });
  observer.observe({ type: "longtask" });
  const t0 = performance.now();
  const view = md.createMarkdownView(out);
  view.set(text);
  await view.finish();
  const ms = Math.round(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 200));
  observer.disconnect();
  const ref = document.getElementById("ref");
  ref.replaceChildren(md.renderMarkdown(text));
  return { longtasks, at, ms, stats: { ...view.stats }, sameHtml: flatHtml(out) === ref.innerHTML };
};

// Many views filled at once, as opening a conversation fills one per stored answer: the frame
// each finished in (counted from the start), in the order they were made, and whether each
// shows what a one-shot render shows.
window.manyViews = async (texts) => {
  await md.preload();
  let frames = 0;
  let counting = true;
  const count = () => { frames += 1; if (counting) requestAnimationFrame(count); };
  requestAnimationFrame(count);
  const boxes = texts.map(() => {
    const box = document.createElement("div");
    document.body.append(box);
    return box;
  });
  const finishedIn = await Promise.all(texts.map((t, i) => {
    const view = md.createMarkdownView(boxes[i]);
    view.set(t);
    return view.finish().then(() => frames);
  }));
  counting = false;
  const ref = document.getElementById("ref");
  const same = texts.map((t, i) => {
    ref.replaceChildren(md.renderMarkdown(t));
    return flatHtml(boxes[i]) === ref.innerHTML;
  });
  boxes.forEach((b) => b.remove());
  return { finishedIn, same };
};

// Stream each text in chunks of 1, 2, 3, 5 and 8 characters; return the texts whose final
// render differs from the one-shot render.
window.compareStreams = async (texts) => {
  await md.preload();
  const ref = document.getElementById("ref");
  const bad = [];
  for (const text of texts) {
    ref.replaceChildren(md.renderMarkdown(text));
    for (const size of [1, 2, 3, 5, 8]) {
      const view = md.createMarkdownView(out);
      for (let i = 0; i < text.length; i += size) {
        view.append(text.slice(i, i + size));
        if (i % (size * 4) === 0) await new Promise((r) => requestAnimationFrame(r));
      }
      await view.finish();
      if (flatHtml(out) !== ref.innerHTML) { bad.push([text, size, out.innerHTML, ref.innerHTML]); break; }
    }
  }
  return bad;
};
window.harnessReady = true;
"""

SAMPLE = r"""# Heat equation, briefly

The solution satisfies $u_t = \alpha \nabla^2 u$ and, for a rod of length $L$, we expand
in \(\sin(n\pi x / L)\):

$$
u(x,t) = \sum_{n=1}^{\infty} b_n \, e^{-\alpha (n\pi/L)^2 t} \sin\frac{n\pi x}{L}
$$

| Method | Order | Stable? |
|:-------|:-----:|--------:|
| Explicit Euler | 1 | if $r \le 1/2$ |
| Crank–Nicolson | 2 | always |
| ~~Leapfrog~~ | 2 | never |

Steps:

1. Discretise the rod into $N$ cells.
2. Pick a time step:
   - explicit: $\Delta t \le \frac{\Delta x^2}{2\alpha}$
   - implicit: anything
3. Iterate; see https://en.wikipedia.org/wiki/Heat_equation and www.example.com, not main.py.

- [x] derive the scheme
- [ ] prove convergence

```python
import numpy as np

def step(u: np.ndarray, r: float) -> np.ndarray:
    \"\"\"One explicit Euler step (periodic boundary).\"\"\"
    return u + r * (np.roll(u, 1) - 2 * u + np.roll(u, -1))  # r = alpha * dt / dx**2
```

> **Note:** the energy $E(t) = \int_0^L u^2\,dx$ decreases, since
> \[ \frac{dE}{dt} = -2\alpha \int_0^L u_x^2 \, dx \le 0. \]

Inline `code`, **bold**, *italic*, a price of $5 and $10, and [the docs](https://numpy.org/doc/).
""".replace('\\"\\"\\"', '"""')

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">raw html link</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  java&#x09;script:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[rel](/accounts/logout/) and [frag](#top)",
    "![a](http://evil.example/x.png)",
    "![b](data:image/png;base64,iVBORw0KGgo=)",
    "<svg><script>alert(1)</script></svg>",
    '<svg><use href="data:image/svg+xml,<svg id=x><script>alert(1)</script></svg>#x"/></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<form action="http://evil.example/"><input name=q><button>go</button></form>',
    '<p style="background:url(http://evil.example/bg.png)">styled</p>',
    "```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```",
    "$\\href{javascript:alert(1)}{x}$",
    "$\\url{javascript:alert(1)}$",
    "$\\htmlClass{md-copy}{x} \\htmlStyle{color:red}{y} \\htmlId{out}{z}$",
    "$$\\includegraphics{http://evil.example/y.png}$$",
    "$\\def\\a{\\a\\a}\\a$ $\\rule{10000em}{10000em}$",
    "<javascript:alert(1)>",
    "<http://ok.example/path> and <mailto:someone@example.com>",
]


class _Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        if self.path.startswith("/page.html"):
            self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("mdsite")
    (root / "static").symlink_to(STATIC, target_is_directory=True)
    (root / "page.html").write_text(PAGE)
    (root / "nocsp.html").write_text(PAGE)  # the same page without the CSP header
    (root / "page.css").write_text(PAGE_CSS)
    (root / "harness.js").write_text(HARNESS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = functools.partial(_Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    httpd.server_close()


def _open(browser, url: str, **context_args):  # type: ignore[no-untyped-def]
    """A page on `url` that records dialogs, errors and requests (any off this host is refused)."""
    context = browser.new_context(**context_args)
    page = context.new_page()
    seen: dict[str, list[str]] = {"dialogs": [], "errors": [], "foreign": []}
    origin = url.split("/", 3)[:3]
    base = "/".join(origin)

    def route(r):  # type: ignore[no-untyped-def]
        if r.request.url.startswith(base + "/"):
            r.continue_()
        else:
            seen["foreign"].append(r.request.url)
            r.abort()

    context.route("**/*", route)

    def on_dialog(d):  # type: ignore[no-untyped-def]
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on(
        "request",
        lambda r: seen["foreign"].append(r.url) if not r.url.startswith(base + "/") else None,
    )
    page.goto(url)
    page.wait_for_function("window.harnessReady === true")
    return context, page, seen


def _no_dangerous_output(page) -> None:  # type: ignore[no-untyped-def]
    bad = page.evaluate(
        """() => {
        const out = document.getElementById("out");
        const q = (s) => out.querySelectorAll(s).length;
        const hrefs = [...out.querySelectorAll("[href]")].map((e) => [e.tagName, e.getAttribute("href")]);
        return {
          script: q("script"), iframe: q("iframe"), object: q("object, embed"), img: q("img"),
          form: q("form, input, textarea, select"), svg: q("svg, use, foreignObject"), style: q("style"),
          styleAttr: q("[style]"), handlers: [...out.querySelectorAll("*")].filter(
            (e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
          badHref: hrefs.filter(([t, h]) => t !== "A" || !/^(https?:\\/\\/|mailto:)/i.test(h)),
          noRel: [...out.querySelectorAll("a")].filter(
            (a) => a.target !== "_blank" || a.rel !== "noopener noreferrer").length,
          buttons: [...out.querySelectorAll("button")].filter((b) => !b.classList.contains("md-copy")).length,
        };
    }"""
    )
    assert bad == {
        "script": 0,
        "iframe": 0,
        "object": 0,
        "img": 0,
        "form": 0,
        "svg": 0,
        "style": 0,
        "styleAttr": 0,
        "handlers": 0,
        "badHref": [],
        "noRel": 0,
        "buttons": 0,
    }, bad


def test_sample_renders_under_a_strict_csp(site, browser):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    context, page, seen = _open(
        browser, site + "/page.html", viewport={"width": 900, "height": 1100}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page.evaluate("(t) => window.renderInto(t)", SAMPLE)
    out = page.locator("#out")
    expect(out).to_have_class("answer md")
    # GFM
    assert out.locator("h1").inner_text() == "Heat equation, briefly"
    assert out.locator("table th").count() == 3 and out.locator("table tbody tr").count() == 3
    assert out.locator("table td.md-align-right").count() == 3
    assert out.locator("table s").inner_text() == "Leapfrog"
    assert out.locator("ol > li").count() == 3 and out.locator("ol ul > li").count() == 2
    assert out.locator("li.md-task").count() == 2 and out.locator("li.md-task-done").count() == 1
    links = out.locator("a").evaluate_all("(as) => as.map((a) => a.href)")
    assert links == [
        "https://en.wikipedia.org/wiki/Heat_equation",
        "http://www.example.com/",
        "https://numpy.org/doc/",
    ], links
    # Code: highlighted, with a Copy button that copies the code.
    code = out.locator(".md-code code.language-python")
    expect(code).to_have_class("language-python hljs")
    assert code.locator("span.hljs-keyword").count() >= 3
    assert out.locator(".md-code-lang").inner_text() == "python"
    copy = page.get_by_role("button", name="Copy")
    expect(copy).to_have_count(1)
    copy.click()
    expect(out.locator(".md-copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code.text_content()
    expect(out.locator(".md-copy")).to_have_text("Copy", timeout=5000)
    # Math: MathML, inline and display; "$5 and $10" stayed text.
    assert out.locator("math").count() >= 8
    assert out.locator('math[display="block"]').count() == 2
    assert out.locator(".md-math-inline-display math, blockquote math").count() >= 2
    assert "$5 and $10" in out.inner_text()
    assert out.locator(".katex-error, .md-math-pending, .md-hl-pending").count() == 0
    assert page.locator("[style]").count() == 0
    _no_dangerous_output(page)
    page.screenshot(path=f"{SHOTS}/markdown-light.png", full_page=True)
    assert page.evaluate("window.cspViolations") == []
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()

    context, page, seen = _open(
        browser, site + "/page.html", viewport={"width": 900, "height": 1100}, color_scheme="dark"
    )
    page.evaluate("(t) => window.renderInto(t)", SAMPLE)
    bg = page.locator(".md-code").evaluate("(e) => getComputedStyle(e).backgroundColor")
    assert bg == "rgb(13, 17, 23)", bg
    page.screenshot(path=f"{SHOTS}/markdown-dark.png", full_page=True)
    assert page.evaluate("window.cspViolations") == []
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()


@pytest.mark.parametrize("mode", ["oneshot", "stream"])
def test_xss_corpus_is_inert(site, browser, mode):  # type: ignore[no-untyped-def]
    # No CSP on this page: the sanitizer alone must hold.
    context, page, seen = _open(browser, site + "/nocsp.html")
    text = "\n\n".join(XSS)
    if mode == "oneshot":
        page.evaluate("(t) => window.renderInto(t)", text)
    else:
        page.evaluate("(t) => window.streamInto(t, 1, 7)", text)
        page.evaluate("window.md.preload()")
    page.wait_for_timeout(300)
    _no_dangerous_output(page)
    out = page.locator("#out")
    shown = out.text_content() or ""
    # Raw HTML is shown as text, inside and outside code.
    assert "<script>alert(1)</script>" in shown
    assert "<img src=x onerror=alert(1)>" in shown
    assert out.locator("pre code").text_content() == (
        "<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n"
    )
    # Unsafe links keep their text and lose their link; safe ones open in a new tab. (Bare
    # http addresses in the escaped HTML are autolinked, as GFM does: links, never fetched.)
    assert "[x](javascript:alert(1))" in shown and "[x](vbscript:msgbox(1))" in shown
    hrefs = out.locator("a").evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
    assert hrefs == [
        "http://evil.example/x.png",
        "http://evil.example/",
        "http://evil.example/bg.png",
        "http://ok.example/path",
        "mailto:someone@example.com",
    ], hrefs
    # The remote image is a link showing its alt text and address; nothing was fetched.
    image = out.locator("a.md-image")
    expect(image).to_have_text("a http://evil.example/x.png")
    # KaTeX was not trusted: no links, classes, styles or ids from TeX; bombs were bounded.
    assert out.locator("math").count() >= 4
    assert out.locator(".md-copy").count() == 1  # only the real one, on the code block
    assert out.locator("#out").count() == 0
    assert page.locator("[style]").count() == 0
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()


def test_marked_is_set_up_as_markdown_it_was(site, browser):  # type: ignore[no-untyped-def]
    """The choices made on top of marked's GFM: what the page showed with markdown-it."""
    context, page, seen = _open(browser, site + "/page.html")
    text = (
        "About ~5 min and ~2 GB (1~2), but ~~struck~~.\n\n"
        "*see $a*b$ here* and **bold $x^*$**\n\n"
        "| cell | html |\n|---|---|\n| a<br>b | <b>x</b> |\n\n"
        "[r]: https://example.org/r\n\n"
        "A [reference][r], www.example.com, main.py, example.com, "
        '<a href="https://x.example/">x</a> and [rel](/x).\n'
    )
    page.evaluate("(t) => window.renderInto(t)", text)
    out = page.locator("#out")
    shown = out.inner_text()
    # Strikethrough needs ~~: a single ~ means "about" in model output.
    assert out.locator("s").all_inner_texts() == ["struck"]
    assert "About ~5 min and ~2 GB (1~2), but struck." in shown
    # A formula is one piece: the * inside it pairs with nothing outside.
    assert out.locator("em math").count() == 1 and out.locator("strong math").count() == 1
    assert out.locator("em").count() == 1 and out.locator("strong").count() == 1
    # HTML is text, in table cells too.
    assert out.locator("td").all_inner_texts() == ["a<br>b", "<b>x</b>"]
    # Links: references, GFM autolinks (www. or a scheme; not file or bare domain names, which
    # markdown-it's linkify was set to skip too); a relative link stays as written.
    hrefs = out.locator("a").evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
    assert hrefs == ["https://example.org/r", "http://www.example.com", "https://x.example/"], hrefs
    assert "[rel](/x)" in shown
    assert out.locator("a", has_text="reference").count() == 1
    _no_dangerous_output(page)
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()


TRICKY = [
    "para\n#\nmore",
    "para\n#x not a heading\n\nnext",
    "para\n***bold*** still para\n\n***\n\nafter rule",
    "Title\n===\n\ntext\nSub\n---\nb",
    "- a\n\n- b\n\n  continued\n\nafter\n\n- new list",
    "1. x\n2. y\n\n\n3. z\n\n7. seven",
    "| a | b |\n|---|---|\n| 1 | 2 |\nnot a row?\n\npara",
    "intro\n| a | b |\n|---|---|\n| 1 | 2 |",
    "```\nunclosed fence\n\nstill code",
    "~~~python\nx = 1\n~~~\n\n````\n```\nnested\n```\n````\ntail",
    "$$\nx\n\ny\n$$\n\nafter",
    "text\n$$\nx = 1\n$$\nmore text",
    "$$ unclosed\n\npara one\n\npara two $x$",
    "so\n\\[\n\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}\n\\]\nthen \\(y\\).",
    "> quote\ncontinued\n\n> another $a$\n> > nested",
    "    indented code\n\n    more\n\ntext",
    "a\r\nb\r\n\r\nc\rd",
    "- [ ] todo\n- [x] done\n\n**bold *nested* text** ~~gone~~ `co$de$` $5 and $10",
    "see https://example.org/a_(b) and www.example.com/x, mail me@example.org.",
    # Fuzzy link candidates that are dropped (file and bare domain names): no crash.
    "add a provider with python manage.py add_provider, see main.py or example.com",
    '![alt text](https://example.org/i.png "t") [l](https://example.org "title")',
    "Line with trailing spaces  \nhard break\\\nanother",
    "<div>raw</div>\n\n<!-- comment -->\n\ntext & more &amp; &copy;",
    # Reference definitions reach links in later blocks, also once those blocks are finished.
    "[r]: https://example.org/r\n\nsee [r] and [x][r]\n\n- item [r]\n\n[R]: https://example.org/2",
    "About ~5 min, ~2 GB, 1~2 and ~~struck~~; *see $a*b$ here* and **$x^*$ bold**",
    "a<br>b\n\n| h | i |\n|---|---|\n| a<br>b | <b>c</b> |\npara\n<div>x</div>",
]


def test_streamed_renders_equal_one_shot_renders(site, browser):  # type: ignore[no-untyped-def]
    context, page, seen = _open(browser, site + "/page.html")
    bad = page.evaluate("(texts) => window.compareStreams(texts)", TRICKY)
    assert bad == [], json.dumps(bad, indent=1)
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()


def _long_answer(target: int = 100_000) -> str:
    parts: list[str] = []
    size = 0
    i = 0
    while size < target:
        i += 1
        k = i % 7
        section = [
            f"## Step {i}: {'an estimate' if k % 2 else 'a check'}\n",
            f"We now bound the term $a_{{{i}}} = \\frac{{{i}}}{{n^2 + {k}}}$ and compare it with "
            f"**the previous step** (see `step_{i - 1}`), using \\(\\sum_k a_k < \\infty\\) "
            f"and [a reference](https://example.org/ref/{i}). Price check: $5 and $10.\n",
            f"- first, note that $x_{{{i}}} \\ge 0$;\n- then ~~guess~~ verify:\n"
            f"  1. the base case;\n  2. the step, with $k = {k}$.\n",
        ]
        if k in (0, 3):
            section.append(
                "```python\n"
                + "".join(
                    f"def f_{i}_{j}(x: float) -> float:\n    return x ** {j} + {i}  # term {j}\n"
                    for j in range(6)
                )
                + "```\n"
            )
        if k in (1, 4):
            section.append(
                "| n | a_n | bound |\n|---:|:---:|:---|\n"
                + "".join(f"| {j} | {j * i} | $\\le {j + 1}$ |\n" for j in range(8))
            )
        if k in (2, 5):
            section.append(
                f"$$\n\\int_0^{{{i}}} e^{{-x^2}}\\,dx \\le \\frac{{\\sqrt{{\\pi}}}}{{2}}\n$$\n"
            )
        if k == 6:
            section.append(
                f"> A quote with a formula:\n> \\[\n>   \\sum_{{n=1}}^{{{i}}} \\frac1{{n^2}} < 2\n> \\]\n"
            )
        if i == 20:  # one long code block and one long table: big open blocks for a while
            section.append(
                "```javascript\n"
                + "".join(f"const v{j} = compute({j}, 'row {j}');\n" for j in range(220))
                + "```\n"
            )
            section.append(
                "| a | b | c |\n|---|---|---|\n"
                + "".join(f"| {j} | {j * j} | **{j % 3}** |\n" for j in range(120))
            )
        chunk = "\n".join(section) + "\n"
        parts.append(chunk)
        size += len(chunk)
    return "".join(parts)[:target]


# The long-task figures (no main-thread task over 50 ms at 3x the required rate) are a
# measurement, not a pass/fail test on a shared machine: these tests check that the
# streamed and the stored renders are right and spread over frames, and print the
# long tasks they saw.


def test_streaming_a_long_answer_renders_right(site, browser):  # type: ignore[no-untyped-def]
    text = _long_answer()
    assert len(text) == 100_000
    context, page, seen = _open(
        browser, site + "/page.html", viewport={"width": 1000, "height": 800}
    )
    # ~16 characters (4 tokens) a chunk at 600 chunks/s: 3x the 200 tokens/s it must stand.
    result = page.evaluate(
        "([t, rate, chunk]) => window.streamTest(t, rate, chunk)", [text, 600, 16]
    )
    print(json.dumps({"longtasks": result["longtasks"], "stats": result["stats"]}))
    # The same as a one-shot render, the finished blocks' nodes kept, everything rendered.
    assert result["sameText"] and result["sameHtml"], result
    assert result["firstBlockKept"], result
    # Finished blocks in boxes the browser skips off screen (a frame's cost stays flat).
    assert result["boxes"] >= 20 and result["boxStyle"] == "auto", result
    # Where one box ends and the next begins, the page reads as one answer.
    page.evaluate(
        "() => { const b = document.querySelectorAll('#out > .md-chunk')[12];"
        " window.scrollTo(0, b.getBoundingClientRect().top + window.scrollY - 400); }"
    )
    page.wait_for_timeout(200)
    page.screenshot(path=f"{SHOTS}/markdown-long-answer.png")
    assert result["math"] > 500 and result["code"] > 20 and result["tables"] > 20, result
    assert page.evaluate("window.cspViolations") == []
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()


def test_a_long_stored_answer_renders_over_frames(site, browser):  # type: ignore[no-untyped-def]
    text = _long_answer()
    context, page, seen = _open(browser, site + "/page.html")
    result = page.evaluate("(t) => window.setTest(t)", text)
    print(json.dumps({"longtasks": result["longtasks"], "stats": result["stats"]}))
    assert result["sameHtml"], result
    assert result["stats"]["frames"] > 10, result  # spread over frames, not one task
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()


def test_views_filled_at_once_share_the_frames_newest_first(site, browser):  # type: ignore[no-untyped-def]
    # A conversation of 100 exchanges opening: each view's work used to run in one frame.
    texts = [SAMPLE.replace("Heat equation", f"Heat equation {i}") for i in range(100)]
    context, page, seen = _open(browser, site + "/page.html")
    result = page.evaluate("(texts) => window.manyViews(texts)", texts)
    assert all(result["same"]), result["same"]
    finished = result["finishedIn"]
    assert finished[-1] < finished[0]  # the newest (the bottom of the page) first
    assert max(finished) - min(finished) >= 5, finished  # spread over frames, not one task
    assert seen == {"dialogs": [], "errors": [], "foreign": []}, seen
    context.close()
