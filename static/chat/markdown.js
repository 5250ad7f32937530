// Markdown for model output: GFM, highlighted code, KaTeX math; sanitized; incremental while streaming.
//
//   import { createMarkdownView, renderMarkdown, preload } from "./markdown.js";
//   preload();                                    // on Send: fetch and warm highlight.js + KaTeX
//   const view = createMarkdownView(answerEl);    // answerEl gets class "md", is emptied
//   view.append(chunk); ...; await view.finish(); // or view.set(wholeTextSoFar)
//   el.replaceChildren(renderMarkdown(storedText)); // one-shot; el needs class "md"
//
// The page links static/chat/markdown.css (it @imports the highlight.js themes). Titles and other
// one-line labels stay plain text: there is deliberately no inline renderer.
//
// Safety: markdown-it with `html: false` (raw HTML in the source is shown as text), links only to
// http(s)/mailto (others stay text), images become links (nothing remote is fetched), KaTeX with
// `trust: false` and MathML output (no inline styles), and the HTML goes through DOMPurify with an
// allow-list before it reaches the page; so does KaTeX's output, and highlight.js's is read by a
// strict parser that only knows <span class>. Buttons are added afterwards with DOM calls, so the
// content itself can never produce one. Nothing here needs 'unsafe-inline' or 'unsafe-eval'.
//
// Streaming: finished top-level blocks are rendered once and never touched again; the last, open
// block is rendered again at most once per animation frame, so the work per frame is the size of
// that block, not of the answer.
//
// Size: markdown-it and DOMPurify load with this module; KaTeX and highlight.js's core are fetched
// the first time a formula or code with a known language shows up, or on preload(), and each
// highlight.js grammar the first time code in its language does (until then that code or formula
// reads as plain text, then it is upgraded in place).

import MarkdownIt from "../vendor/markdown-it/markdown-it.esm.min.mjs";
import "../vendor/dompurify/purify.min.js"; // UMD build: defines globalThis.DOMPurify

const _ = (s) => (window.gettext ? window.gettext(s) : s);

// The vendored grammars and their aliases (as each grammar registers them), so a fence's language
// is known before its grammar is fetched.
const HL_LANGUAGES = {
  bash: ["sh", "zsh"], c: ["h"], cpp: ["cc", "c++", "h++", "hpp", "hh", "hxx", "cxx"],
  diff: ["patch"], go: ["golang"], java: ["jsp"], javascript: ["js", "jsx", "mjs", "cjs"],
  json: ["jsonc", "json5"], markdown: ["md", "mkdown", "mkd"], python: ["py", "gyp", "ipython"],
  rust: ["rs"], shell: ["console", "shellsession"], sql: [], typescript: ["ts", "tsx", "mts", "cts"],
  xml: ["html", "xhtml", "rss", "atom", "xjb", "xsd", "xsl", "plist", "wsf", "svg"], yaml: ["yml"],
};
// Grammars a grammar hands parts of its code to (JSX, <script>, shell sessions): fetched with it,
// so a block is highlighted as it would be with every grammar loaded.
const HL_EMBEDS = { javascript: ["xml"], typescript: ["xml"], markdown: ["xml"], shell: ["bash"], xml: ["javascript"] };
const HL_NAME = new Map(Object.entries(HL_LANGUAGES).flatMap(([name, aliases]) =>
  [[name, name], ...aliases.map((alias) => [alias, name])]));
const KATEX_OPTIONS = {
  output: "mathml", throwOnError: false, trust: false, strict: "ignore",
  maxSize: 20, maxExpand: 200, // bounded: no huge boxes, no macro bombs
};
const MAX_MATH_BLOCK_LINES = 200; // a $$ or \[ that does not close within this many lines is text
const MAX_INLINE_MATH = 2000; // chars
const LIVE_HIGHLIGHT_LIMIT = 12000; // an open code block larger than this is highlighted when closed
const FRAME_BUDGET_MS = 10;
const WINDOW = 1024; // chars of finished lines examined per step when catching up

// --- lazily loaded libraries --------------------------------------------------------------

let katex = null;
let katexState = "idle"; // idle | loading | ready | failed
let hljs = null;
let hljsCore = null; // the promise of the core
const grammars = new Map(); // grammar name -> "loading" | "ready" | "failed"
const pending = new Set(); // placeholders waiting for a library: .md-math, code.md-hl

function loadKatex() {
  if (katexState !== "idle") return;
  katexState = "loading";
  import("../vendor/katex/katex.min.js").then(() => {
    katex = globalThis.katex;
    katexState = katex ? "ready" : "failed";
  }, (err) => {
    katexState = "failed";
    console.warn("markdown: KaTeX did not load", err);
  }).then(pumpPending);
}

function loadHighlightCore() {
  hljsCore ||= import("../vendor/highlight.js/es/core.min.js").then((core) => { hljs = core.default; });
  return hljsCore;
}

function loadGrammar(name) {
  if (grammars.has(name)) return;
  grammars.set(name, "loading");
  for (const embedded of HL_EMBEDS[name] || []) loadGrammar(embedded);
  Promise.all([loadHighlightCore(), import(`../vendor/highlight.js/es/languages/${name}.min.js`)])
    .then(([, grammar]) => {
      hljs.registerLanguage(name, grammar.default);
      grammars.set(name, "ready");
    }, (err) => {
      grammars.set(name, "failed");
      console.warn(`markdown: highlight.js (${name}) did not load`, err);
    }).then(pumpPending);
}

// A language's state: "ready" once its grammar and those it embeds are loaded (or failed).
function grammarState(name) {
  const own = grammars.get(name) || "idle";
  if (own !== "ready") return own;
  return (HL_EMBEDS[name] || []).some((e) => grammars.get(e) === "loading") ? "loading" : "ready";
}

const grammarsLoading = () => [...grammars.values()].includes("loading");

// The grammar for a code element's language-* class; undefined when none is vendored.
function grammarOf(code) {
  const lang = [...code.classList].find((c) => c.startsWith("language-"))?.slice(9);
  return lang && HL_NAME.get(lang);
}

/**
 * Fetch KaTeX and highlight.js's core now and warm KaTeX up, so the first formula of a stream
 * costs nothing (a grammar is fetched when code in its language first shows up). Call it when a
 * reply is on its way (say, on Send); the returned promise resolves when all is ready.
 */
let warming = null;
export function preload() {
  warming ||= (async () => {
    loadKatex();
    await loadHighlightCore().catch(() => {}); // a grammar's own load reports a failure
    renderMarkdown("warm *up* https://example.org $x$"); // compiles markdown-it's link finder
    await whenIdle();
    if (katexState === "ready") mathNode("\\frac{a}{b}+\\sqrt{x^2}", true);
  })();
  return warming.then(whenIdle);
}

// Resolves once no library is loading and every waiting placeholder is upgraded.
let idleWaiters = [];
function whenIdle() {
  const busy = katexState === "loading" || grammarsLoading() || pending.size;
  if (!busy) return Promise.resolve();
  return new Promise((resolve) => idleWaiters.push(resolve));
}

let pumping = false;
function pumpPending() {
  if (!pumping) {
    pumping = true;
    requestAnimationFrame(pumpStep);
  }
}

function pumpStep() {
  const deadline = performance.now() + FRAME_BUDGET_MS;
  let progressed = false;
  for (const el of pending) {
    const isMath = el.classList.contains("md-math");
    const state = isMath ? katexState : grammarState(grammarOf(el));
    if (state === "loading" || state === "idle") continue;
    pending.delete(el);
    progressed = true;
    if (isMath) upgradeMath(el);
    else upgradeCode(el);
    if (performance.now() > deadline) break;
  }
  if (progressed && pending.size) {
    requestAnimationFrame(pumpStep);
    return;
  }
  pumping = false;
  if (katexState !== "loading" && !grammarsLoading() && !pending.size) {
    const waiters = idleWaiters;
    idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

function forgetPending(node) {
  if (!pending.size || node.nodeType !== 1) return;
  pending.delete(node);
  for (const el of node.querySelectorAll(".md-math-pending, .md-hl-pending")) pending.delete(el);
}

// --- math: a placeholder <span class="md-math">TeX</span> in the Markdown's HTML, replaced after
// sanitizing by KaTeX's MathML, itself sanitized (once per formula: the result is cached). ----

const mathCache = new Map();

function katexHtml(tex, display) {
  try {
    // A fresh macros object each time: \gdef in one formula cannot leak into the next.
    return katex.renderToString(tex, { ...KATEX_OPTIONS, displayMode: display, macros: {} });
  } catch {
    return `<code class="md-tex">${escapeHtml(tex)}</code>`;
  }
}

const mathKey = (tex, display) => (display ? "D" : "I") + tex;

// Render and sanitize the formulas not in the cache yet, in one DOMPurify pass (a pass has a fixed
// cost, which for a formula alone is most of it). Each result is checked to be in its own box.
function cacheMath(formulas) {
  const todo = [];
  const seen = new Set();
  for (const [tex, display] of formulas) {
    const key = mathKey(tex, display);
    if (!mathCache.has(key) && !seen.has(key)) todo.push({ key, tex, display });
    seen.add(key);
  }
  if (!todo.length) return;
  if (mathCache.size + todo.length > 3000) mathCache.clear();
  const html = todo.map((t) => `<span class="md-mathbox">${katexHtml(t.tex, t.display)}</span>`);
  const boxes = [...sanitize(html.join("")).childNodes];
  const aligned = boxes.length === todo.length &&
    boxes.every((b) => b.nodeType === 1 && b.className === "md-mathbox");
  todo.forEach((t, i) => {
    const frag = document.createDocumentFragment();
    if (aligned) frag.append(...boxes[i].childNodes);
    else frag.append(sanitize(html[i]));
    mathCache.set(t.key, frag);
  });
}

function mathNode(tex, display) {
  const key = mathKey(tex, display);
  if (!mathCache.has(key)) cacheMath([[tex, display]]);
  return mathCache.get(key).cloneNode(true);
}

function upgradeMath(el) {
  el.classList.remove("md-math-pending");
  if (katexState === "ready") el.replaceWith(mathNode(el.textContent, el.classList.contains("md-display")));
  else el.className = "md-tex";
}

function renderTex(tex, display) {
  return `<span class="md-math${display ? " md-display" : ""}">${escapeHtml(tex)}</span>`;
}

// --- code: highlighted after sanitizing. highlight.js escapes all text and writes only
// <span class="…">; its output is parsed by this strict reader into DOM nodes (anything else and
// the block stays plain), and must give back exactly the code's text. ------------------------

const HL_PIECE = /<span class="([\w -]+)">|<\/span>|([^<]+)/y;
const HL_ENTITY = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

function highlightedNodes(html) {
  const root = document.createDocumentFragment();
  const stack = [root];
  HL_PIECE.lastIndex = 0;
  while (HL_PIECE.lastIndex < html.length) {
    const m = HL_PIECE.exec(html);
    if (!m) return null;
    if (m[1] !== undefined) {
      const span = document.createElement("span");
      span.className = m[1];
      stack[stack.length - 1].append(span);
      stack.push(span);
    } else if (m[2] !== undefined) {
      stack[stack.length - 1].append(m[2].replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (e) => HL_ENTITY[e]));
    } else {
      if (stack.length === 1) return null;
      stack.pop();
    }
  }
  return stack.length === 1 ? root : null;
}

function applyHighlight(code) {
  const lang = grammarOf(code);
  if (!lang || !hljs.getLanguage(lang)) return;
  const text = code.textContent;
  let nodes = null;
  try {
    nodes = highlightedNodes(hljs.highlight(text, { language: lang, ignoreIllegals: true }).value);
  } catch {
    nodes = null;
  }
  if (!nodes || nodes.textContent !== text) return;
  code.replaceChildren(nodes);
  code.classList.add("hljs");
}

function upgradeCode(code) {
  code.classList.remove("md-hl-pending");
  if (grammarState(grammarOf(code)) === "ready") applyHighlight(code);
}

// --- markdown-it --------------------------------------------------------------------------

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const SAFE_URL = /^(?:https?:\/\/|mailto:)/i;

function isSpaceCode(c) {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || Number.isNaN(c);
}

// Where `needle` ends before `max` and within MAX_INLINE_MATH of `from`, or -1 (a bounded scan:
// many unclosed "\\(" in one paragraph stay linear).
function boundedIndexOf(src, needle, from, max) {
  const end = Math.min(max, from + MAX_INLINE_MATH);
  const i = src.slice(from, end).indexOf(needle);
  return i < 0 || from + i + needle.length > end ? -1 : from + i;
}

// Inline math: $…$ (pandoc's rules: no space just inside, closing $ not followed by a digit, so
// "$5 and $10" stays text), $$…$$, \(…\) and \[…\] (display).
function mathInline(state, silent) {
  const src = state.src;
  const start = state.pos;
  const max = state.posMax;
  const c = src.charCodeAt(start);
  let content;
  let end;
  let display;
  let markup;
  if (c === 0x5c /* \ */) {
    const n = src.charCodeAt(start + 1);
    if (n !== 0x28 && n !== 0x5b) return false;
    display = n === 0x5b;
    markup = display ? "\\[" : "\\(";
    const close = boundedIndexOf(src, display ? "\\]" : "\\)", start + 2, max);
    if (close < 0) return false;
    content = src.slice(start + 2, close);
    end = close + 2;
  } else if (c === 0x24 /* $ */) {
    if (src.charCodeAt(start + 1) === 0x24) {
      const close = boundedIndexOf(src, "$$", start + 2, max);
      if (close < 0) return false;
      display = true;
      markup = "$$";
      content = src.slice(start + 2, close);
      end = close + 2;
    } else {
      if (start + 1 >= max || isSpaceCode(src.charCodeAt(start + 1))) return false;
      let close = start + 1;
      for (;;) {
        close = src.indexOf("$", close);
        if (close < 0 || close >= max || close - start > MAX_INLINE_MATH) return false;
        if (src.charCodeAt(close - 1) === 0x5c) { close += 1; continue; } // \$ inside the formula
        break;
      }
      const next = src.charCodeAt(close + 1);
      if (isSpaceCode(src.charCodeAt(close - 1)) || (next >= 0x30 && next <= 0x39)) return false;
      display = false;
      markup = "$";
      content = src.slice(start + 1, close);
      end = close + 1;
    }
  } else {
    return false;
  }
  if (!content.trim()) return false;
  if (!silent) {
    const token = state.push(display ? "math_inline_display" : "math_inline", "math", 0);
    token.content = content;
    token.markup = markup;
  }
  state.pos = end;
  return true;
}

// Display math on its own lines: $$ … $$ or \[ … \]. It may interrupt a paragraph (models write
// "so\n\\[\nx\n\\]"). While streaming (env.mdLive) an unclosed one runs to the end of the text like
// an open code fence; in the final text an unclosed one is plain text.
function mathBlock(state, startLine, endLine, silent) {
  if (state.sCount[startLine] - state.blkIndent >= 4) return false;
  const src = state.src;
  let pos = state.bMarks[startLine] + state.tShift[startLine];
  let max = state.eMarks[startLine];
  let close;
  if (src.startsWith("$$", pos)) close = "$$";
  else if (src.startsWith("\\[", pos)) close = "\\]";
  else return false;
  const markup = src.slice(pos, pos + 2);
  const first = src.slice(pos + 2, max);
  let nextLine = startLine;
  let closed = false;
  let content;
  const same = first.indexOf(close);
  if (same >= 0) {
    if (first.slice(same + 2).trim()) return false; // "$$a$$ and more": inline display math
    content = first.slice(0, same);
    closed = true;
  } else {
    const lines = [first];
    for (nextLine = startLine + 1; nextLine < endLine; nextLine++) {
      if (nextLine - startLine > MAX_MATH_BLOCK_LINES) return false;
      pos = state.bMarks[nextLine] + state.tShift[nextLine];
      max = state.eMarks[nextLine];
      if (pos < max && state.sCount[nextLine] < state.blkIndent) break; // left the list item
      const line = src.slice(pos, max).trimEnd();
      if (line.endsWith(close)) {
        lines.push(line.slice(0, -2));
        closed = true;
        break;
      }
      lines.push(line);
    }
    if (!closed) {
      if (!state.env.mdLive || nextLine < endLine) return false;
      nextLine = endLine - 1;
    }
    content = lines.join("\n");
  }
  if (!content.trim() && closed) return false;
  if (silent) return true;
  state.line = nextLine + 1;
  const token = state.push("math_block", "math", 0);
  token.block = true;
  token.content = content;
  token.markup = markup;
  token.map = [startLine, state.line];
  token.meta = { closed };
  return true;
}

function renderCode(code, lang, env) {
  const safeLang = /^[a-z0-9_+#.-]{1,32}$/.test(lang) ? lang : "";
  let cls = safeLang ? `language-${safeLang}` : "";
  // A code block still being written is highlighted while it is small; a big one when it closes.
  if (safeLang && !(env.mdLive && code.length > LIVE_HIGHLIGHT_LIMIT)) cls += " md-hl";
  const label = safeLang ? `<span class="md-code-lang">${escapeHtml(safeLang)}</span>` : "";
  return `<div class="md-code"><div class="md-code-head">${label}</div>` +
    `<pre><code class="${cls}">${escapeHtml(code)}</code></pre></div>\n`;
}

function setupMarkdownIt(breaks) {
  const md = new MarkdownIt("default", { html: false, linkify: true, typographer: false, breaks });
  md.validateLink = (url) => SAFE_URL.test(url.trim());
  // GFM autolinks: scheme links and www. links, but not "main.py" or "example.com".
  md.linkify.set({ fuzzyLink: true, fuzzyEmail: true });
  const fuzzyOk = (m) => m.schema !== "" || /^www\./i.test(m.raw);
  const match = md.linkify.match.bind(md.linkify);
  md.linkify.match = (text) => {
    const found = match(text);
    const kept = found && found.filter(fuzzyOk);
    // Never null here: markdown-it's linkify rule calls match() after test() and
    // reads `.length` of what it gets ("see manage.py" passes test(), then is dropped).
    return kept || [];
  };
  const matchAtStart = md.linkify.matchAtStart.bind(md.linkify);
  md.linkify.matchAtStart = (text) => {
    const m = matchAtStart(text);
    return m && fuzzyOk(m) ? m : null;
  };

  md.inline.ruler.before("escape", "math_inline", mathInline);
  md.block.ruler.before("fence", "math_block", mathBlock, {
    alt: ["paragraph", "reference", "blockquote", "list"],
  });

  // Table alignment comes as style="text-align:…"; styles are not allowed, classes are.
  // Task list items "- [ ] x" / "- [x] x" get classes (drawn by CSS; no <input>).
  md.core.ruler.push("md_classes", (state) => {
    const tokens = state.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if ((t.type === "th_open" || t.type === "td_open") && t.attrs) {
        const align = /text-align:(left|right|center)/.exec(t.attrGet("style") || "");
        t.attrs = t.attrs.filter((a) => a[0] !== "style");
        if (align) t.attrJoin("class", `md-align-${align[1]}`);
      } else if (t.type === "inline" && i >= 2 && tokens[i - 1].type === "paragraph_open" &&
                 tokens[i - 2].type === "list_item_open") {
        const first = t.children && t.children[0];
        const m = first && first.type === "text" && /^\[([ xX])\][ \t]/.exec(first.content);
        if (m) {
          first.content = first.content.slice(m[0].length);
          tokens[i - 2].attrJoin("class", m[1] === " " ? "md-task" : "md-task md-task-done");
        }
      }
    }
  });

  const rules = md.renderer.rules;
  rules.math_inline = (tokens, idx) => renderTex(tokens[idx].content, false);
  rules.math_inline_display = (tokens, idx) =>
    `<span class="md-math-inline-display">${renderTex(tokens[idx].content, true)}</span>`;
  rules.math_block = (tokens, idx) => {
    const t = tokens[idx];
    const inner = t.meta.closed
      ? renderTex(t.content, true)
      : `<pre class="md-math-src">${escapeHtml(t.markup + t.content)}</pre>`;
    return `<div class="md-math-block">${inner}</div>\n`;
  };
  rules.fence = (tokens, idx, options, env) => {
    const t = tokens[idx];
    const info = t.info ? md.utils.unescapeAll(t.info).trim() : "";
    return renderCode(t.content, info.split(/\s+/)[0].toLowerCase(), env);
  };
  rules.code_block = (tokens, idx, options, env) => renderCode(tokens[idx].content, "", env);
  // No remote images: a link showing the alt text and the address instead.
  rules.image = (tokens, idx, options, env, self) => {
    const t = tokens[idx];
    const src = t.attrGet("src") || "";
    const alt = self.renderInlineAsText(t.children || [], options, env).trim();
    return `<a class="md-image" href="${escapeHtml(src)}">${escapeHtml(alt || _("image"))}` +
      ` <span class="md-image-url">${escapeHtml(src)}</span></a>`;
  };
  return md;
}

const parsers = new Map();
function markdownIt(breaks) {
  const key = Boolean(breaks);
  if (!parsers.has(key)) parsers.set(key, setupMarkdownIt(key));
  return parsers.get(key);
}

// --- sanitizing ---------------------------------------------------------------------------

const purify = globalThis.DOMPurify(window); // a private instance: its settings are ours alone

const HTML_TAGS = [
  "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
  "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
];
const MATHML_TAGS = [
  "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup",
  "msub", "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr",
  "mtd", "mlabeledtr", "mpadded", "mphantom", "menclose", "mstyle", "merror", "mmultiscripts",
  "mprescripts", "none",
];
const ATTRS = [
  "href", "title", "class", "start",
  // MathML presentation attributes KaTeX writes
  "display", "displaystyle", "scriptlevel", "mathvariant", "mathcolor", "mathbackground", "encoding",
  "stretchy", "fence", "separator", "lspace", "rspace", "minsize", "maxsize", "movablelimits",
  "largeop", "symmetric", "accent", "accentunder", "width", "height", "depth", "voffset",
  "linethickness", "columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines",
  "rowlines", "frame", "framespacing", "notation", "side", "mathsize", "form", "columnspan",
];
const PURIFY_CONFIG = {
  ALLOWED_TAGS: [...HTML_TAGS, ...MATHML_TAGS],
  ALLOWED_ATTR: ATTRS,
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i, // checked on href only:
  ADD_URI_SAFE_ATTR: ATTRS.filter((name) => name !== "href"), // these hold no addresses
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

function sanitize(html) {
  const frag = purify.sanitize(html, PURIFY_CONFIG);
  for (const a of frag.querySelectorAll("a")) {
    const href = a.getAttribute("href");
    let ok = false;
    if (href && SAFE_URL.test(href)) {
      try {
        ok = ["http:", "https:", "mailto:"].includes(new URL(href).protocol);
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      a.replaceWith(...a.childNodes); // the text stays, the link goes
      continue;
    }
    a.setAttribute("target", "_blank");
    a.setAttribute("rel", "noopener noreferrer");
  }
  for (const el of frag.querySelectorAll("[href]:not(a)")) el.removeAttribute("href");
  return frag;
}

function copyButton() {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "md-copy";
  button.textContent = _("Copy");
  button.addEventListener("click", () => {
    const code = button.closest(".md-code")?.querySelector("code");
    if (!code) return;
    const say = (text) => {
      button.textContent = text;
      clearTimeout(button.mdTimer);
      button.mdTimer = setTimeout(() => { button.textContent = _("Copy"); }, 1500);
    };
    const fail = () => {
      const range = document.createRange(); // let the person copy it by hand
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      say(_("Copy failed"));
    };
    if (!navigator.clipboard) { fail(); return; }
    navigator.clipboard.writeText(code.textContent).then(() => say(_("Copied")), fail);
  });
  return button;
}

function toFragment(html) {
  const frag = sanitize(html);
  for (const head of frag.querySelectorAll(".md-code-head")) head.append(copyButton());
  const maths = frag.querySelectorAll("span.md-math");
  const isDisplay = (el) => el.classList.contains("md-display");
  if (maths.length && katexState === "ready") cacheMath([...maths].map((el) => [el.textContent, isDisplay(el)]));
  for (const el of maths) {
    if (katexState === "ready") {
      el.replaceWith(mathNode(el.textContent, el.classList.contains("md-display")));
    } else if (katexState === "failed") {
      el.className = "md-tex";
    } else {
      el.classList.add("md-math-pending");
      pending.add(el);
      loadKatex();
    }
  }
  for (const code of frag.querySelectorAll("code.md-hl")) {
    code.classList.remove("md-hl");
    const grammar = grammarOf(code);
    if (!grammar) continue; // a language with no vendored grammar stays plain
    const state = grammarState(grammar);
    if (state === "ready") {
      applyHighlight(code);
    } else if (state !== "failed") {
      code.classList.add("md-hl-pending");
      pending.add(code);
      loadGrammar(grammar);
    }
  }
  return frag;
}

function normalize(text) {
  return text.replace(/\r\n?/g, "\n").replace(/\0/g, "\uFFFD");
}

// --- public API ---------------------------------------------------------------------------

/**
 * Render Markdown once, sanitized. Returns a DocumentFragment; insert it into an element with
 * class "md". Formulas and highlighted code may finish a moment later (see preload()).
 * Options: { breaks: true } turns single newlines into <br> (for reasoning text, say).
 */
export function renderMarkdown(text, options = {}) {
  const md = markdownIt(options.breaks);
  return toFragment(md.render(normalize(String(text ?? "")), {}));
}

/**
 * Show Markdown that arrives in pieces. Blocks that are complete are rendered once and left alone;
 * only the last, open block is rendered again, at most once per animation frame.
 * Returns { append(text), set(text), finish() -> Promise, text, destroy() }.
 */
export function createMarkdownView(container, options = {}) {
  const md = markdownIt(options.breaks);
  container.classList.add("md");
  container.replaceChildren();

  let src = ""; // the text so far, newlines normalized
  let stableEnd = 0; // src[0:stableEnd] is rendered for good
  let live = []; // nodes showing src[stableEnd:]
  let liveDirty = false;
  let liveCost = 0; // ms the last live render took
  let lastLiveAt = 0;
  let heldCR = false;
  let done = false;
  let frame = 0;
  let waiters = [];
  const env = { references: {} }; // reference definitions seen in the finished part
  const stats = { frames: 0, maxFrameMs: 0, liveRenders: 0, finishedRenders: 0 };

  function schedule() {
    if (!frame) frame = requestAnimationFrame(onFrame);
  }

  function dropLive() {
    for (const node of live) {
      forgetPending(node);
      node.remove();
    }
    live = [];
  }

  // The offset in `chunk` (complete lines starting at a block boundary) where its last top-level
  // block starts; 0 when it holds a single block.
  function lastBlockStart(chunk) {
    const state = new md.block.State(chunk, md, { mdLive: true, references: {} }, []);
    md.block.tokenize(state, state.line, state.lineMax);
    let last = null;
    let previous = null;
    for (const t of state.tokens) {
      if (t.level === 0 && t.map && t.nesting >= 0) {
        previous = last;
        last = t;
      }
    }
    if (!last) return 0;
    // An unclosed display formula may turn out to be text that continues the block before it.
    const keep = last.type === "math_block" && !last.meta.closed ? previous : last;
    return keep ? state.bMarks[keep.map[0]] : 0;
  }

  // Move finished blocks out of the open part. Returns true if it moved some.
  function finalizeStep() {
    const nl = src.lastIndexOf("\n");
    if (nl < stableEnd) return false;
    const complete = nl + 1;
    for (let size = WINDOW; ; size *= 2) {
      let end = Math.min(complete, stableEnd + size);
      if (end < complete) end = src.lastIndexOf("\n", end - 1) + 1;
      if (end <= stableEnd) continue;
      const cut = lastBlockStart(src.slice(stableEnd, end));
      if (cut > 0) {
        dropLive();
        container.append(toFragment(md.render(src.slice(stableEnd, stableEnd + cut), env)));
        stableEnd += cut;
        liveDirty = true;
        stats.finishedRenders += 1;
        return true;
      }
      if (end === complete) return false;
    }
  }

  function renderLive() {
    const liveEnv = { references: { ...env.references }, mdLive: !done };
    const frag = toFragment(md.render(src.slice(stableEnd), liveEnv));
    dropLive();
    live = [...frag.childNodes];
    container.append(frag);
    liveDirty = false;
    stats.liveRenders += 1;
  }

  function onFrame() {
    frame = 0;
    const t0 = performance.now();
    const deadline = t0 + FRAME_BUDGET_MS;
    let more = false;
    for (;;) {
      const s0 = performance.now();
      if (!finalizeStep()) break;
      const now = performance.now();
      if (now + (now - s0) > deadline) { more = true; break; } // another step would overrun
    }
    if (more) {
      schedule();
      // Catching up on a lot of text (set(), or a tab in the background): the rest is shown as
      // the finished blocks come in. Streaming: the open block is shown at once as usual.
      const rest = src.slice(stableEnd);
      const oneBlock = rest.length <= WINDOW ||
        (rest.length <= 16 * WINDOW && lastBlockStart(rest.slice(0, rest.lastIndexOf("\n") + 1)) === 0);
      if (oneBlock) renderLive();
      else dropLive();
    } else if (liveDirty) {
      // A big open block (one long table, say) is rendered less often, never hogging the thread.
      const now = performance.now();
      if (!done && liveCost > 4 && now - lastLiveAt < liveCost * 3) {
        schedule();
      } else {
        renderLive();
        lastLiveAt = performance.now();
        liveCost = lastLiveAt - now;
      }
    }
    const spent = performance.now() - t0;
    stats.frames += 1;
    stats.maxFrameMs = Math.max(stats.maxFrameMs, spent);
    if (done && !liveDirty && !frame) {
      const list = waiters;
      waiters = [];
      whenIdle().then(() => list.forEach((resolve) => resolve()));
    }
  }

  return {
    /** Add text at the end. */
    append(text) {
      let s = String(text ?? "");
      if (heldCR && s.startsWith("\n")) s = s.slice(1);
      if (!s) return;
      heldCR = s.endsWith("\r");
      src += normalize(s);
      done = false;
      liveDirty = true;
      schedule();
    },
    /** Replace the whole text (if it only grew, this is an append). */
    set(text) {
      const s = normalize(String(text ?? ""));
      heldCR = false;
      if (s.startsWith(src)) {
        if (s.length > src.length) {
          src = s;
          liveDirty = true;
        }
      } else {
        src = s;
        stableEnd = 0;
        for (const key of Object.keys(env.references)) delete env.references[key];
        dropLive();
        for (const node of container.childNodes) forgetPending(node);
        container.replaceChildren();
        liveDirty = true;
      }
      done = false;
      schedule();
    },
    /** The text is complete: render the final state. Resolves when it is on the page. */
    finish() {
      done = true;
      liveDirty = true;
      schedule();
      return new Promise((resolve) => waiters.push(resolve));
    },
    /** Stop rendering (the element is going away). */
    destroy() {
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
      done = true;
      waiters.forEach((resolve) => resolve());
      waiters = [];
    },
    get text() {
      return src;
    },
    stats,
  };
}
