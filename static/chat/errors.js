// A turn's error in plain words, in the page's language.
//
// The server stores a turn's error once, in English (providers/clients/base.py,
// conversations/errors.py), and anyone may read it later in their own language.
// So the sentences are here too, word for word: a stored message that is one of
// them (with its variable parts, e.g. the HTTP status) is shown translated. None
// carries the provider's own words: those are for staff (the trace page, the admin). `error` frames are not here: the server already sends them
// in the socket's language, and their codes fall through to `error.message`.

// Strings go through Django's JavaScript catalog (loaded before the modules).
const _ = (s) => (window.gettext ? window.gettext(s) : s);
// fmt(_("… %(name)s …"), {name}): the translated pattern, filled in.
const fmt = (s, values) => s.replace(/%\((\w+)\)s/g, (m, k) => String(values[k]));
// Marks a sentence for makemessages (its gettext_noop keyword); translated when shown.
const gettext_noop = (s) => s;

const CONNECT_FAILED = gettext_noop("The model's provider could not be reached. Try again in a moment; if it keeps failing, an admin can check the provider's address and the server's network.");
const AUTH = gettext_noop("The provider refused the API key. An admin needs to check the provider's keys.");
const RATE_LIMITED = gettext_noop("The provider is rate-limiting requests. Wait a moment and try again.");
const REFUSED_PLAIN = gettext_noop("The provider refused the request. Try other options or another model.");
const UNAVAILABLE = gettext_noop("The provider is not answering right now. Try again in a moment.");
const FAILED = gettext_noop("The provider could not finish the answer. Try again in a moment.");
const CUT = gettext_noop("The connection to the provider broke, so the answer is cut off. The part that arrived is kept; regenerate to try again.");
const STALLED = gettext_noop("The provider stopped sending, so the answer is cut off. The part that arrived is kept; regenerate to try again.");
const INTERRUPTED = gettext_noop("The server process handling this turn stopped before the answer was finished; the partial answer is kept.");
const INTERNAL = gettext_noop("Something went wrong on the server while answering. Try again; if it keeps happening, tell an admin.");

// Every sentence the server may store. Longer ones first where one could be read
// as the start of another.
const SENTENCES = [
  CONNECT_FAILED,
  gettext_noop("The provider's address is not a usable URL. An admin needs to fix its base URL."),
  AUTH,
  RATE_LIMITED,
  gettext_noop("The provider's account has run out of credit. An admin needs to top it up."),
  gettext_noop("The provider's address redirects elsewhere (HTTP %(status)s). An admin needs to check its base URL."),
  gettext_noop("The provider refused the request (HTTP %(status)s). Try other options or another model."),
  REFUSED_PLAIN,
  gettext_noop("With thinking off, this model only accepts minimal effort. Turn thinking on or set the effort to minimal."),
  gettext_noop("The provider answered with an error (HTTP %(status)s). Try again; if it keeps happening, tell an admin."),
  UNAVAILABLE,
  gettext_noop("The provider had a problem (HTTP %(status)s). Try again in a moment."),
  FAILED,
  gettext_noop("The provider's answer could not be read. Try again; if it keeps failing, an admin can check the provider's settings."),
  CUT,
  STALLED,
  INTERRUPTED,
  INTERNAL,
];

// A stored message that is none of them (a turn stored before these sentences): the
// code's general sentence.
const BY_CODE = {
  auth: AUTH,
  rate_limited: RATE_LIMITED,
  bad_request: REFUSED_PLAIN,
  upstream_unavailable: UNAVAILABLE,
  upstream_error: FAILED,
  connect_failed: CONNECT_FAILED,
  cut: CUT,
  stalled: STALLED,
  interrupted: INTERRUPTED,
  internal: INTERNAL,
  failed: INTERNAL,
};

// The sentence as a whole-string pattern; its %(name)s parts capture the values.
function matcher(sentence) {
  const names = [];
  const source = sentence
    .split(/%\((\w+)\)s/)
    .map((part, i) => {
      if (i % 2) {
        names.push(part);
        return "([\\s\\S]*)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  const re = new RegExp(`^${source}$`);
  return (message) => {
    const m = re.exec(message);
    return m && Object.fromEntries(names.map((name, i) => [name, m[i + 1]]));
  };
}

const MATCHERS = SENTENCES.map((sentence) => [sentence, matcher(sentence)]);

// `error`: a turn's `{code, message}` (from the socket or the API).
export function describeError(error) {
  if (!error) return "";
  const message = typeof error.message === "string" ? error.message : "";
  for (const [sentence, match] of MATCHERS) {
    const values = match(message);
    if (values) return fmt(_(sentence), values);
  }
  const general = BY_CODE[error.code];
  if (general) return _(general);
  return message || String(error.code || "");
}
