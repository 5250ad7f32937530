// The add-provider page: show what the picked preset fills in (providers/admin/preset_preview.py).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("id_preset");
  const preview = document.getElementById("preset-preview");
  if (!select || !preview) return;
  const show = () => {
    let found = false;
    for (const block of preview.querySelectorAll("[data-preset]")) {
      block.hidden = block.dataset.preset !== select.value;
      found = found || !block.hidden;
    }
    preview.hidden = !found;
  };
  select.addEventListener("change", show);
  show(); // a form shown again with its errors keeps its choice
});
