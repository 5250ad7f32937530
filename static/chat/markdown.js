// Markdown for model output: GFM, highlighted code, KaTeX math; sanitized; incremental while streaming.
//
//   (exports: createMarkdownView, renderMarkdown, preload)
//   preload();                                    // on Send: fetch and warm highlight.js + KaTeX
//   const view = createMarkdownView(answerEl);    // answerEl gets class "md", is emptied
//   view.append(chunk); ...; await view.finish(); // or view.set(wholeTextSoFar)
//   el.replaceChildren(renderMarkdown(storedText)); // one-shot; el needs class "md"
//
// The page links static/chat/markdown.css (it @imports the highlight.js themes). Titles and other
// one-line labels stay plain text: there is deliberately no inline renderer.
//
// Safety: marked (GFM) with its HTML tokenizers off (raw HTML in the source is shown as text),
// links only to http(s)/mailto (others stay the text they were written as), images become links
// (nothing remote is fetched), KaTeX with `trust: false` and MathML output (no inline styles), and
// the HTML goes through DOMPurify with an allow-list before it reaches the page; so does KaTeX's
// output, and highlight.js's is read by a strict parser that only knows <span class>. Buttons are
// added afterwards with DOM calls, so the content itself can never produce one. Nothing here needs
// 'unsafe-inline' or 'unsafe-eval'.
//
// Streaming: finished top-level blocks are rendered once and never touched again; the last, open
// block is rendered again at most once per animation frame, so the work per frame is the size of
// that block, not of the answer.
//
// Size: marked and DOMPurify load with this module; KaTeX and highlight.js's core are fetched
// the first time a formula or code with a known language shows up, or on preload(), and each
// highlight.js grammar the first time code in its language does (until then that code or formula
// reads as plain text, then it is upgraded in place).

import { Lexer, Marked, Parser, Tokenizer } from "../vendor/marked/marked.esm.js";
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
// Finished blocks are grouped in boxes of about this many characters, which the browser skips
// (layout, pre-paint, paint) while they are off screen (.md-chunk in markdown.css): a frame of a
// long stream then costs the same at the 100,000th character as at the first.
const CHUNK_CHARS = 4000;

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
    renderMarkdown("warm *up* https://example.org $x$"); // compiles marked's expressions
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

// --- marked -------------------------------------------------------------------------------

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const SAFE_URL = /^(?:https?:\/\/|mailto:)/i;

// An address as marked writes it into href (its cleanUrl); null when it is not a safe one.
function safeHref(href) {
  const url = String(href ?? "").trim();
  if (!SAFE_URL.test(url)) return null;
  try {
    return encodeURI(url).replace(/%25/g, "%");
  } catch {
    return null;
  }
}

// True while rendering the open end of a streaming text: an unclosed display formula then runs
// to the end like an open code fence, and a big open code block is not highlighted yet.
let liveRender = false;

function isSpaceCode(c) {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || Number.isNaN(c);
}

// Where `needle` starts in `src` after `from`, ending within MAX_INLINE_MATH of `from`, or -1 (a
// bounded scan: many unclosed "\\(" in one paragraph stay linear).
function boundedIndexOf(src, needle, from) {
  const end = Math.min(src.length, from + MAX_INLINE_MATH);
  const i = src.slice(from, end).indexOf(needle);
  return i < 0 || from + i + needle.length > end ? -1 : from + i;
}

// Inline math at the start of `src`: $…$ (pandoc's rules: no space just inside, closing $ not
// followed by a digit, so "$5 and $10" stays text), $$…$$, \(…\) and \[…\] (display).
// Returns { raw, text, display } or null.
function matchMathInline(src) {
  const c = src.charCodeAt(0);
  let content;
  let end;
  let display;
  if (c === 0x5c /* \ */) {
    const n = src.charCodeAt(1);
    if (n !== 0x28 && n !== 0x5b) return null;
    display = n === 0x5b;
    const close = boundedIndexOf(src, display ? "\\]" : "\\)", 2);
    if (close < 0) return null;
    content = src.slice(2, close);
    end = close + 2;
  } else if (c === 0x24 /* $ */) {
    if (src.charCodeAt(1) === 0x24) {
      const close = boundedIndexOf(src, "$$", 2);
      if (close < 0) return null;
      display = true;
      content = src.slice(2, close);
      end = close + 2;
    } else {
      if (src.length < 2 || isSpaceCode(src.charCodeAt(1))) return null;
      let close = 1;
      for (;;) {
        close = src.indexOf("$", close);
        if (close < 0 || close > MAX_INLINE_MATH) return null;
        if (src.charCodeAt(close - 1) === 0x5c) { close += 1; continue; } // \$ inside the formula
        break;
      }
      const next = src.charCodeAt(close + 1);
      if (isSpaceCode(src.charCodeAt(close - 1)) || (next >= 0x30 && next <= 0x39)) return null;
      display = false;
      content = src.slice(1, close);
      end = close + 1;
    }
  } else {
    return null;
  }
  if (!content.trim()) return null;
  return { raw: src.slice(0, end), text: content, display };
}

// Display math on its own lines at the start of `src`: $$ … $$ or \[ … \]. While streaming
// (liveRender) an unclosed one runs to the end of the text like an open code fence; in the final
// text an unclosed one is plain text. Returns { raw, text, markup, closed } or null.
const MATH_BLOCK_OPEN = /^ {0,3}(\$\$|\\\[)([^\n]*)(?:\n|$)/;
function matchMathBlock(src) {
  const open = MATH_BLOCK_OPEN.exec(src);
  if (!open) return null;
  const markup = open[1];
  const close = markup === "$$" ? "$$" : "\\]";
  const first = open[2];
  const same = first.indexOf(close);
  if (same >= 0) {
    if (first.slice(same + 2).trim()) return null; // "$$a$$ and more": inline display math
    const content = first.slice(0, same);
    return content.trim() ? { raw: open[0], text: content, markup, closed: true } : null;
  }
  const lines = [first];
  let pos = open[0].length;
  while (pos < src.length) {
    if (lines.length > MAX_MATH_BLOCK_LINES) return null;
    const nl = src.indexOf("\n", pos);
    const line = src.slice(pos, nl < 0 ? src.length : nl).trim();
    pos = nl < 0 ? src.length : nl + 1;
    if (line.endsWith(close)) {
      lines.push(line.slice(0, -2));
      const content = lines.join("\n");
      return content.trim() ? { raw: src.slice(0, pos), text: content, markup, closed: true } : null;
    }
    lines.push(line);
  }
  if (!liveRender) return null;
  return { raw: src, text: lines.join("\n"), markup, closed: false };
}

// It may interrupt a paragraph (models write "so\n\\[\nx\n\\]"): marked cuts a paragraph where a
// block extension's start() says one begins, so start() checks that one really does.
const MATH_BLOCK_LINE = /\n {0,3}(?:\$\$|\\\[)/g;
function mathBlockStart(src) {
  const blank = src.indexOf("\n\n"); // a paragraph ends there anyway
  const scope = blank < 0 ? src : src.slice(0, blank);
  MATH_BLOCK_LINE.lastIndex = 0;
  for (let m; (m = MATH_BLOCK_LINE.exec(scope));) {
    if (matchMathBlock(src.slice(m.index + 1))) return m.index + 1;
  }
  return undefined;
}

const MATH_EXTENSIONS = [
  {
    name: "mathBlock",
    level: "block",
    start: mathBlockStart,
    tokenizer(src) {
      const m = matchMathBlock(src);
      return m ? { type: "mathBlock", ...m } : undefined;
    },
    renderer(token) {
      const inner = token.closed
        ? renderTex(token.text, true)
        : `<pre class="md-math-src">${escapeHtml(token.markup + token.text)}</pre>`;
      return `<div class="md-math-block">${inner}</div>\n`;
    },
  },
  {
    name: "mathInline",
    level: "inline",
    start(src) {
      const i = src.indexOf("$"); // marked's text already stops at "\"
      return i < 0 ? undefined : i;
    },
    tokenizer(src) {
      const m = matchMathInline(src);
      return m ? { type: "mathInline", ...m } : undefined;
    },
    renderer(token) {
      return token.display
        ? `<span class="md-math-inline-display">${renderTex(token.text, true)}</span>`
        : renderTex(token.text, false);
    },
  },
];

// marked pairs * and _ on a masked copy of each inline run (code spans and links hidden); formulas
// are hidden too, so "*see $a*b$*" is emphasis around a formula, as the tokenizer will read it.
// The hook only gets the masked copy: the lexer below keeps the run it belongs to.
const inlineRuns = [];
function maskMath(masked) {
  const src = inlineRuns[inlineRuns.length - 1];
  if (src === undefined || src.length !== masked.length || !/[*_~]/.test(src)) return masked;
  let out = "";
  let last = 0;
  for (let i = 0; i < src.length;) {
    const c = src.charCodeAt(i);
    let m = null;
    if (c === 0x24 /* $ */ && masked.charCodeAt(i) === 0x24) {
      m = matchMathInline(src.slice(i));
    } else if (c === 0x5c /* \ */) {
      const n = src.charCodeAt(i + 1);
      if ((n === 0x28 || n === 0x5b) && "+\\".includes(masked[i])) m = matchMathInline(src.slice(i));
      if (!m) { i += 2; continue; }
    }
    if (!m) { i += 1; continue; }
    const end = i + m.raw.length;
    out += masked.slice(last, i) + "[" + "a".repeat(m.raw.length - 2) + "]";
    last = end;
    i = end;
  }
  return last ? out + masked.slice(last) : masked;
}

class MdLexer extends Lexer {
  inlineTokens(src, tokens) {
    inlineRuns.push(src);
    try {
      return super.inlineTokens(src, tokens);
    } finally {
      inlineRuns.pop();
    }
  }
}

function renderCode(code, lang) {
  const safeLang = /^[a-z0-9_+#.-]{1,32}$/.test(lang) ? lang : "";
  let cls = safeLang ? `language-${safeLang}` : "";
  // A code block still being written is highlighted while it is small; a big one when it closes.
  if (safeLang && !(liveRender && code.length > LIVE_HIGHLIGHT_LIMIT)) cls += " md-hl";
  const label = safeLang ? `<span class="md-code-lang">${escapeHtml(safeLang)}</span>` : "";
  return `<div class="md-code"><div class="md-code-head">${label}</div>` +
    `<pre><code class="${cls}">${escapeHtml(code)}</code></pre></div>\n`;
}

const RENDERER = {
  // Raw HTML is never parsed (the tokenizers below are off); were a token to come, it is text.
  html(token) {
    const text = escapeHtml(token.text);
    return token.block ? `<p>${text}</p>\n` : text;
  },
  code(token) {
    const lang = token.codeBlockStyle === "indented" ? "" : (token.lang || "").trim().split(/\s+/)[0];
    const text = token.text ? token.text.replace(/\n$/, "") + "\n" : "";
    return renderCode(text, lang.toLowerCase());
  },
  // Table alignment as a class (marked writes align="…"; no presentational attributes here).
  tablecell(token) {
    const tag = token.header ? "th" : "td";
    const cls = token.align ? ` class="md-align-${token.align}"` : "";
    return `<${tag}${cls}>${this.parser.parseInline(token.tokens)}</${tag}>\n`;
  },
  // Task list items "- [ ] x" / "- [x] x" get classes (drawn by CSS; no <input>).
  listitem(item) {
    const cls = item.task ? ` class="md-task${item.checked ? " md-task-done" : ""}"` : "";
    return `<li${cls}>${this.parser.parse(item.tokens)}</li>\n`;
  },
  checkbox() {
    return "";
  },
  del(token) {
    return `<s>${this.parser.parseInline(token.tokens)}</s>`;
  },
  // Links only to http(s) and mailto; any other stays as the text it was written as.
  link(token) {
    const href = safeHref(token.href);
    if (href === null) return escapeHtml(token.raw);
    const title = token.title ? ` title="${escapeHtml(token.title)}"` : "";
    const text = token.autolink ? escapeHtml(token.text) : this.parser.parseInline(token.tokens);
    return `<a href="${escapeHtml(href)}"${title}>${text}</a>`;
  },
  // No remote images: a link showing the alt text and the address instead.
  image(token) {
    const href = safeHref(token.href);
    if (href === null) return escapeHtml(token.raw);
    const alt = String(token.text ?? "").trim();
    return `<a class="md-image" href="${escapeHtml(href)}">${escapeHtml(alt || _("image"))}` +
      ` <span class="md-image-url">${escapeHtml(token.href.trim())}</span></a>`;
  },
};

const TOKENIZER = {
  // Raw HTML is text, as with CommonMark's html option off: no HTML blocks, no inline tags.
  html() {
    return undefined;
  },
  tag() {
    return undefined;
  },
  // Strikethrough needs ~~ (a single ~ is "about" in model output: "~5 min, ~2 GB").
  del(src) {
    return src.startsWith("~~") ? false : undefined;
  },
  // A GFM autolink also ends at " ` > (the HTML shown as text, say <a href="http://x">).
  url(src) {
    const token = Tokenizer.prototype.url.call(this, src);
    const cut = token ? token.raw.search(/["`>]/) : -1;
    if (cut < 0) return token;
    return cut > 0 ? Tokenizer.prototype.url.call(this, src.slice(0, cut)) : undefined;
  },
};

function markedOptions(breaks) {
  const marked = new Marked({
    gfm: true, breaks, pedantic: false, async: false, silent: false,
    extensions: MATH_EXTENSIONS, renderer: RENDERER, tokenizer: TOKENIZER,
  });
  return { ...marked.defaults, hooks: { emStrongMask: maskMath } };
}

const configs = new Map();
function markedConfig(breaks) {
  const key = Boolean(breaks);
  if (!configs.has(key)) configs.set(key, markedOptions(key));
  return configs.get(key);
}

// Markdown to HTML (not sanitized yet). `links`: reference definitions known from earlier text;
// the ones this text defines are added to it when `keepLinks`.
function renderHtml(config, text, { links = null, keepLinks = false, live = false } = {}) {
  liveRender = live;
  try {
    const lexer = new MdLexer(config);
    if (links) Object.assign(lexer.tokens.links, links);
    const tokens = lexer.lex(text);
    const html = Parser.parse(tokens, config);
    if (links && keepLinks) Object.assign(links, tokens.links);
    return html;
  } catch (err) {
    console.warn("markdown: rendering failed", err);
    return `<pre>${escapeHtml(text)}</pre>`;
  } finally {
    liveRender = false;
  }
}

// The offset in `chunk` (complete lines starting at a block boundary) where its last top-level
// block starts; 0 when it holds a single block (or its blocks cannot be told apart).
function lastBlockStart(config, chunk) {
  liveRender = true;
  let tokens;
  try {
    tokens = new MdLexer(config).blockTokens(chunk, []); // blocks only: inline runs are not lexed
  } catch {
    return 0;
  } finally {
    liveRender = false;
  }
  const starts = [];
  let offset = 0;
  for (const t of tokens) {
    starts.push(offset);
    offset += t.raw.length;
  }
  if (offset !== chunk.length) return 0;
  let last = -1;
  let previous = -1;
  tokens.forEach((t, i) => {
    if (t.type !== "space") {
      previous = last;
      last = i;
    }
  });
  if (last < 0) return 0;
  // An unclosed display formula may turn out to be text that continues the block before it.
  const keep = tokens[last].type === "mathBlock" && !tokens[last].closed ? previous : last;
  return keep < 0 ? 0 : starts[keep];
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

// Copy `text` for a Copy `button`: the button says "Copied", or "Copy failed" with
// `node`'s contents selected for the person to copy by hand, for a moment; `status`
// (a role="status" element), if given, says the same to screen readers.
export function copyWithFeedback(button, text, node, status = null) {
  const say = (message) => {
    button.textContent = message;
    if (status) status.textContent = message;
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(() => {
      button.textContent = _("Copy");
      if (status) status.textContent = "";
    }, 1500);
  };
  const fail = () => {
    const range = document.createRange();
    range.selectNodeContents(node);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    say(_("Copy failed"));
  };
  if (!navigator.clipboard) { fail(); return; }
  navigator.clipboard.writeText(text).then(() => say(_("Copied")), fail);
}

function copyButton() {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "md-copy";
  button.textContent = _("Copy");
  button.addEventListener("click", () => {
    const code = button.closest(".md-code")?.querySelector("code");
    if (code) copyWithFeedback(button, code.textContent, code);
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

// --- one frame budget for every view -----------------------------------------------------
// Each view renders in animation frames. Opening a conversation fills in a view per stored
// answer and reasoning, and each asking for its own frame ran them all in one frame's callbacks:
// one task of 170 ms for 200 turns. The views due share FRAME_BUDGET_MS a frame instead, the one
// that asked last first: the newest turn, at the bottom where the page opens, paints first, and
// a streaming view (it asks again every frame) goes ahead of any backlog.

let due = []; // the views' frame callbacks, in the order they asked
let frameRequested = false;

function requestFrame(run) {
  due.push(run);
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(runFrame);
  }
}

function runFrame() {
  frameRequested = false;
  const deadline = performance.now() + FRAME_BUDGET_MS;
  const queue = due;
  due = [];
  // Two at least, so a backlog moves on even behind a stream that spends the whole budget.
  for (let ran = 0; queue.length && (ran < 2 || performance.now() < deadline); ran++) {
    try {
      queue.pop()(deadline);
    } catch (err) { // one view's failure must not stop the others
      console.warn("markdown: rendering failed", err);
    }
  }
  due = queue.concat(due); // the rest keeps its place, before those that asked again
  if (due.length && !frameRequested) {
    frameRequested = true;
    requestAnimationFrame(runFrame);
  }
}

// --- public API ---------------------------------------------------------------------------

/**
 * Render Markdown once, sanitized. Returns a DocumentFragment; insert it into an element with
 * class "md". Formulas and highlighted code may finish a moment later (see preload()).
 * Options: { breaks: true } turns single newlines into <br> (for reasoning text, say).
 */
export function renderMarkdown(text, options = {}) {
  return toFragment(renderHtml(markedConfig(options.breaks), normalize(String(text ?? ""))));
}

/**
 * Show Markdown that arrives in pieces. Blocks that are complete are rendered once and left alone;
 * only the last, open block is rendered again, at most once per animation frame.
 * Returns { append(text), set(text), finish() -> Promise, text, destroy() }.
 */
export function createMarkdownView(container, options = {}) {
  const config = markedConfig(options.breaks);
  container.classList.add("md");
  container.replaceChildren();

  let src = ""; // the text so far, newlines normalized
  let stableEnd = 0; // src[0:stableEnd] is rendered for good
  let live = []; // nodes showing src[stableEnd:]
  let chunk = null; // the .md-chunk finished blocks go into
  let chunkChars = 0;
  let liveDirty = false;
  let liveCost = 0; // ms the last live render took
  let lastLiveAt = 0;
  let heldCR = false;
  let done = false;
  let scheduled = false; // onFrame is due in a coming frame
  let destroyed = false;
  let waiters = [];
  const links = Object.create(null); // reference definitions seen in the finished part
  const stats = { frames: 0, maxFrameMs: 0, liveRenders: 0, finishedRenders: 0 };

  function schedule() {
    if (!scheduled && !destroyed) {
      scheduled = true;
      requestFrame(onFrame);
    }
  }

  function dropLive() {
    for (const node of live) {
      forgetPending(node);
      node.remove();
    }
    live = [];
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
      const cut = lastBlockStart(config, src.slice(stableEnd, end));
      if (cut > 0) {
        dropLive();
        const html = renderHtml(config, src.slice(stableEnd, stableEnd + cut), { links, keepLinks: true });
        if (!chunk || chunkChars >= CHUNK_CHARS) {
          chunk = document.createElement("div");
          chunk.className = "md-chunk";
          chunkChars = 0;
          container.append(chunk);
        }
        chunk.append(toFragment(html));
        chunkChars += cut;
        stableEnd += cut;
        liveDirty = true;
        stats.finishedRenders += 1;
        return true;
      }
      if (end === complete) return false;
    }
  }

  function renderLive() {
    const html = renderHtml(config, src.slice(stableEnd), { links, live: !done });
    const frag = toFragment(html);
    dropLive();
    live = [...frag.childNodes];
    container.append(frag);
    liveDirty = false;
    stats.liveRenders += 1;
  }

  // `deadline`: the end of this frame's budget, shared with the other views (runFrame).
  function onFrame(deadline) {
    scheduled = false;
    if (destroyed) return;
    const t0 = performance.now();
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
        (rest.length <= 16 * WINDOW && lastBlockStart(config, rest.slice(0, rest.lastIndexOf("\n") + 1)) === 0);
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
    if (done && !liveDirty && !scheduled) {
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
        for (const key of Object.keys(links)) delete links[key];
        dropLive();
        for (const node of container.childNodes) forgetPending(node);
        container.replaceChildren();
        chunk = null;
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
      destroyed = true; // a frame already due for it does nothing
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
