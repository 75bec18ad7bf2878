/* The transcript beside a recording: the line being said is highlighted, a click (or Enter) on
   a line or a chapter seeks there, and the page's "#t=mm:ss" seeks on load. An enhancement:
   without it the player, its captions and the whole transcript are still there. Self-hosted,
   no dependency, no inline script (the Content-Security-Policy forbids it). */
(function () {
  "use strict";

  function seconds(text) {
    /* "12", "01:05", "1:02:03", "00:12.5" -> seconds, or null */
    if (!/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(text)) { return null; }
    return text.split(":").reduce(function (total, part) { return total * 60 + parseFloat(part); }, 0);
  }

  function playerFor(mediaId) {
    return document.querySelector(".player[data-media='" + mediaId + "']");
  }

  function seek(player, time, play) {
    function go() {
      player.currentTime = time;
      if (play) {
        var started = player.play();
        if (started && started.catch) { started.catch(function () { /* autoplay refused */ }); }
      }
    }
    if (player.readyState >= 1) { go(); } else { player.addEventListener("loadedmetadata", go, { once: true }); player.load(); }
  }

  function fromHash(play) {
    var match = /(?:^#|&)t=([\d:.]+)/.exec(window.location.hash);
    if (!match) { return; }
    var time = seconds(match[1]);
    var player = document.querySelector(".player");
    if (time === null || !player) { return; }
    var section = player.closest(".recording");
    if (section && section.scrollIntoView) { section.scrollIntoView({ block: "start" }); }
    seek(player, time, play);
  }

  Array.prototype.forEach.call(document.querySelectorAll("a.seek"), function (link) {
    link.addEventListener("click", function (event) {
      var player = playerFor(link.getAttribute("data-media"));
      if (!player) { return; }
      event.preventDefault();
      seek(player, parseFloat(link.getAttribute("data-start")), true);
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", link.getAttribute("href"));
      }
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll(".player"), function (player) {
    var mediaId = player.getAttribute("data-media");
    var lists = document.querySelectorAll("ol.cues[data-media='" + mediaId + "']");
    var current = null;
    function shownList() {
      for (var i = 0; i < lists.length; i++) { if (!lists[i].hidden) { return lists[i]; } }
      return null;
    }
    function highlight() {
      var list = shownList();
      if (!list) { return; }
      var time = player.currentTime;
      var found = null;
      var cues = list.querySelectorAll("a.cue");
      /* Overlapping lines (two voices at once): the one that started last wins. */
      for (var i = 0; i < cues.length; i++) {
        var start = parseFloat(cues[i].getAttribute("data-start"));
        if (start > time) { break; }
        if (time < parseFloat(cues[i].getAttribute("data-end"))) { found = cues[i]; }
      }
      if (found === current) { return; }
      if (current) { current.removeAttribute("aria-current"); current.parentNode.classList.remove("current"); }
      current = found;
      if (found) {
        found.setAttribute("aria-current", "true");
        found.parentNode.classList.add("current");
        /* Keep the line in view inside the transcript's own scroll box, never the page. */
        var box = list.closest(".transcript");
        var item = found.parentNode;
        if (box && box.scrollHeight > box.clientHeight) {
          var top = item.offsetTop - box.offsetTop;
          if (top < box.scrollTop || top + item.offsetHeight > box.scrollTop + box.clientHeight) {
            box.scrollTop = Math.max(0, top - box.clientHeight / 3);
          }
        }
      }
    }
    player.addEventListener("timeupdate", highlight);
    player.addEventListener("seeked", highlight);
    var chooser = document.querySelector("select.transcript-language[data-media='" + mediaId + "']");
    if (chooser) {
      chooser.addEventListener("change", function () {
        for (var i = 0; i < lists.length; i++) {
          lists[i].hidden = lists[i].getAttribute("data-language") !== chooser.value;
        }
        current = null;
        highlight();
      });
    }
  });

  fromHash(false);
  window.addEventListener("hashchange", function () { fromHash(true); });
})();
