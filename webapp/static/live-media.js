/* Live processing states on the status and review pages: an enhancement only. Without it, the
   page shows the states of the moment it was loaded and a reload shows the new ones. With it,
   the page asks its JSON endpoint (data-media-states, same access rule as the page) every few
   seconds while an item is still being prepared, writes each item's state, puts its thumbnail in
   as soon as it exists, and says how many are ready in a polite live region. Self-hosted, no
   dependency; stops when nothing is pending or after repeated failures. */
(function () {
  "use strict";
  var box = document.querySelector("[data-media-states]");
  if (!box || !window.fetch || !window.JSON) { return; }
  var url = box.getAttribute("data-media-states");
  var summary = box.querySelector("[data-media-summary]");
  var delay = 1000;
  var failures = 0;

  function stateText(item) {
    if (item.state === "failed" && item.failure_reason) {
      return item.state_label + " : " + item.failure_reason;
    }
    return item.state_label;
  }

  function update(item) {
    var element = box.querySelector('[data-media-id="' + item.id + '"]');
    if (!element) { return; }
    element.setAttribute("data-state", item.state);
    var nodes = element.querySelectorAll("[data-media-state]");
    for (var i = 0; i < nodes.length; i++) {
      if (item.state !== "pending" && nodes[i].hasAttribute("data-while-pending")) {
        nodes[i].parentNode.removeChild(nodes[i]);
      } else {
        nodes[i].textContent = stateText(item);
      }
    }
    var slot = element.querySelector("[data-media-thumb]");
    if (slot && item.thumbnail && !slot.querySelector("img")) {
      var img = document.createElement("img");
      img.src = item.thumbnail.url;
      if (item.thumbnail.width) { img.width = item.thumbnail.width; }
      if (item.thumbnail.height) { img.height = item.thumbnail.height; }
      img.alt = item.alt_text || "";
      img.className = "live-thumb";
      slot.insertBefore(img, slot.firstChild);
    }
  }

  function say(data) {
    if (!summary) { return; }
    var total = data.media.length;
    var ready = data.counts.ready || 0;
    var failed = data.counts.failed || 0;
    var text = (summary.getAttribute(data.done ? "data-done" : "data-progress") || "")
      .replace("{ready}", String(ready)).replace("{total}", String(total))
      .replace("{failed}", String(failed));
    if (summary.textContent !== text) { summary.textContent = text; }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        for (var i = 0; i < data.media.length; i++) { update(data.media[i]); }
        say(data);
        if (!data.done) {
          delay = Math.min(delay * 1.5, 10000);
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        failures += 1;
        if (failures < 10) { window.setTimeout(poll, 10000); }
      });
  }

  if (box.querySelector('[data-state="pending"]')) { window.setTimeout(poll, delay); }
})();
