// The trace page's keyboard shortcuts (listed in templates/review/shortcuts.html):
// j / k / s move through a review queue, g / b rate and save, 1–5 set the score,
// t / n go to the tags and the note, ? shows the list. Nothing fires while the person
// types in a field (or with a modifier held, which belongs to the browser), so a "g"
// in a note stays a "g".

const TEXT_FIELD =
  "textarea, select, [contenteditable=''], [contenteditable='true'], " +
  "input:not([type=radio]):not([type=checkbox]):not([type=button]):not([type=submit])";

function typing(target) {
  return target instanceof Element && target.matches(TEXT_FIELD);
}

function follow(selector) {
  const link = document.querySelector(selector);
  if (link) window.location.assign(link.href);
}

function rateAndSave(form, value) {
  const radio = form.querySelector(`input[name=rating][value=${value}]`);
  if (!radio) return;
  radio.checked = true;
  form.requestSubmit();
}

export function bindShortcuts() {
  const form = document.querySelector("form.review-form");
  const help = document.getElementById("shortcuts");
  if (!form || !help) return;
  for (const opener of document.querySelectorAll("[data-shortcuts-open]")) {
    opener.addEventListener("click", () => help.showModal());
  }
  const score = form.querySelector("select[name=score]");
  const actions = {
    j: () => follow("[data-queue-next]"),
    k: () => follow("[data-queue-previous]"),
    s: () => follow("[data-queue-skip]"),
    g: () => rateAndSave(form, "good"),
    b: () => rateAndSave(form, "bad"),
    t: () => form.querySelector("[name=tags]")?.focus(),
    n: () => form.querySelector("[name=note]")?.focus(),
    "?": () => (help.open ? help.close() : help.showModal()),
  };
  for (const n of ["1", "2", "3", "4", "5"]) {
    actions[n] = () => {
      if (!score) return;
      score.value = n;
      score.dispatchEvent(new Event("change", { bubbles: true }));
    };
  }
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (help.open && event.key !== "?") return; // the dialog handles Escape itself
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault(); // "t" focuses the tags without typing a "t" into them
    action();
  });
  form.dataset.shortcuts = "ready"; // for tests: keys pressed before this do nothing
}
