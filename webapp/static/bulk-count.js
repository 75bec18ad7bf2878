/* The moderation queue's bulk actions say how many stories they will touch: an enhancement
   only (without it the form posts the ticked boxes the same way, and the page that follows
   says how many were done). With it, a "select all on this page" box appears, the count of
   ticked stories is spoken politely and shown on the button, and the button waits for at least
   one. Self-hosted, no dependency. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-bulk]");
  if (!form) { return; }
  var boxes = form.querySelectorAll("input[type=checkbox][name=story_id]");
  var all = form.querySelector("[data-select-all]");
  var count = form.querySelector("[data-selected-count]");
  var button = form.querySelector("button[data-bulk-apply]");
  var template = button ? button.getAttribute("data-bulk-apply") : "";
  var plain = button ? button.textContent : "";

  function update() {
    var ticked = 0;
    for (var i = 0; i < boxes.length; i++) { if (boxes[i].checked) { ticked += 1; } }
    if (count) {
      count.textContent = (count.getAttribute(ticked === 1 ? "data-one" : "data-many") || "")
        .replace("{count}", String(ticked));
    }
    if (button) {
      button.textContent = ticked ? template.replace("{count}", String(ticked)) : plain;
      button.disabled = ticked === 0;
    }
    if (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }

  if (all) {
    all.parentNode.hidden = boxes.length === 0;
    all.addEventListener("change", function () {
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = all.checked; }
      update();
    });
  }
  for (var i = 0; i < boxes.length; i++) { boxes[i].addEventListener("change", update); }
  if (count) { count.hidden = false; }
  update();
})();
