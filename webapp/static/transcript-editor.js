/* Timing while listening: "Mark the time" (or Ctrl+Enter in the text) writes the player's
   current time at the start of the line the caret is on, then moves to the next line; in the
   index-point rows it fills the time field. An enhancement: times can always be typed by hand. */
(function () {
  "use strict";
  var player = document.getElementById("editor-player");
  if (!player) { return; }

  function clock(time) {
    var total = Math.floor(time);
    var h = Math.floor(total / 3600), m = Math.floor(total / 60) % 60, s = total % 60;
    var tenths = Math.floor((time - total) * 10);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return (h ? h + ":" + two(m) : two(m)) + ":" + two(s) + (tenths ? "." + tenths : "");
  }

  function stampLine(area) {
    var text = area.value;
    var caret = area.selectionStart;
    var start = text.lastIndexOf("\n", caret - 1) + 1;
    var end = text.indexOf("\n", caret);
    if (end === -1) { end = text.length; }
    var line = text.slice(start, end).replace(/^\[?\s*\d+(:\d{1,2}){1,2}([.,]\d+)?\s*\]?\s*/, "");
    var stamped = clock(player.currentTime) + " " + line;
    var after = text.slice(end);
    var next = start + stamped.length;
    if (line.trim()) {
      /* The line was already typed: time it and go on to the next one. */
      if (after === "") { after = "\n"; }
      next += 1;
    }
    area.value = text.slice(0, start) + stamped + after;
    area.setSelectionRange(next, next);
    area.focus();
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.stamp"), function (button) {
    var area = document.getElementById(button.getAttribute("data-target"));
    button.addEventListener("click", function () { stampLine(area); });
    area.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        stampLine(area);
      }
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("button.stamp-field"), function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-target"));
      field.value = clock(player.currentTime);
      field.focus();
    });
  });
})();
