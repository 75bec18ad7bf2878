/* The transcript beside a recording: the line being said is highlighted, a click (or Enter) on
   a line or a chapter seeks there, and the page's "#t=mm:ss&media=<id>" seeks on load. An enhancement:
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
    /* "#t=00:12&media=42" seeks recording 42 (a story may have several); a plain "#t=00:12"
       the page's first recording. */
    var match = /(?:^#|&)t=([\d:.]+)/.exec(window.location.hash);
    if (!match) { return; }
    var time = seconds(match[1]);
    var named = /(?:^#|&)media=(\d+)/.exec(window.location.hash);
    var player = named ? playerFor(named[1]) : document.querySelector(".player");
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
    /* With S3, the recording's address redirects to a link that lasts ten minutes (a withdrawn
       voice must not stay downloadable for hours). If it expires while the recording plays, the
       next part fails: ask the page's address again (a fresh link, or a 404 once the story is
       withdrawn) and carry on where it stopped. At most once a minute, so nothing loops. */
    var askedAgain = 0;
    player.addEventListener("error", function () {
      if (!player.error || player.error.code === 1 || Date.now() - askedAgain < 60000) { return; }
      askedAgain = Date.now();
      var time = player.currentTime;
      var playing = !player.paused;
      player.addEventListener("loadedmetadata", function () { seek(player, time, playing); }, { once: true });
      player.load();
    });
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

  /* The waveform of an audio recording, drawn from its peaks (the "peaks" derivative, JSON in
     audiowaveform's format): the part already played in the accent colour, a click or a tap
     seeks there. It is for the pointer and the eye only (aria-hidden, never focusable): the
     native controls stay the keyboard and screen-reader path, so the waveform adds no tab stop
     and cannot trap focus. Without JavaScript, or if the peaks cannot be read, the plain
     <audio controls> is unchanged. */
  var SVG = "http://www.w3.org/2000/svg";
  /* One bar per 4 CSS pixels (between 40 and 160 bars): enough detail on a desktop, bars still
     told apart on a 360 px phone. */
  var BAR_PIXELS = 4, MIN_BARS = 40, MAX_BARS = 160;

  function svgElement(name, attributes) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    return element;
  }

  function barsPath(peaks, wanted) {
    /* Min/max pairs (8 bits) folded into ``wanted`` bars; a silent bar keeps a thin line. */
    var data = peaks.data || [];
    var columns = Math.floor(data.length / 2);
    var bars = Math.min(wanted, columns);
    var d = [];
    for (var bar = 0; bar < bars; bar++) {
      var from = Math.floor(bar * columns / bars);
      var to = Math.max(from + 1, Math.floor((bar + 1) * columns / bars));
      var low = 0, high = 0;
      for (var i = from; i < to; i++) {
        low = Math.min(low, data[2 * i]);
        high = Math.max(high, data[2 * i + 1]);
      }
      var top = 64 - Math.max(2, high / 2), bottom = 64 + Math.max(2, -low / 2);
      d.push("M" + (bar + 0.15).toFixed(2) + " " + top.toFixed(1) + "h0.7V" + bottom.toFixed(1) + "h-0.7Z");
    }
    return { d: d.join(""), bars: bars };
  }

  function drawWaveform(player, peaks) {
    var mediaId = player.getAttribute("data-media");
    var clipId = "waveform-played-" + mediaId;
    var box = document.createElement("div");
    box.className = "waveform";
    box.setAttribute("aria-hidden", "true");
    box.setAttribute("data-media", mediaId);
    player.parentNode.insertBefore(box, player);
    var wanted = Math.max(MIN_BARS, Math.min(MAX_BARS, Math.floor(box.clientWidth / BAR_PIXELS)));
    var shape = barsPath(peaks, wanted);
    if (!shape.bars) { box.parentNode.removeChild(box); return; }
    var svg = svgElement("svg", { viewBox: "0 0 " + shape.bars + " 128", preserveAspectRatio: "none", focusable: "false" });
    var clip = svgElement("clipPath", { id: clipId });
    var playedRect = svgElement("rect", { x: "0", y: "0", width: "0", height: "128" });
    clip.appendChild(playedRect);
    var defs = svgElement("defs", {});
    defs.appendChild(clip);
    svg.appendChild(defs);
    svg.appendChild(svgElement("path", { "class": "waveform-all", d: shape.d }));
    svg.appendChild(svgElement("path", { "class": "waveform-played", d: shape.d, "clip-path": "url(#" + clipId + ")" }));
    box.appendChild(svg);

    var known = peaks.length * peaks.samples_per_pixel / peaks.sample_rate;
    function duration() { return isFinite(player.duration) && player.duration > 0 ? player.duration : known; }
    function showPlayed() {
      var total = duration();
      var part = total > 0 ? Math.min(1, player.currentTime / total) : 0;
      playedRect.setAttribute("width", (part * shape.bars).toFixed(3));
      box.setAttribute("data-played", part.toFixed(3));
    }
    ["timeupdate", "seeked", "loadedmetadata", "durationchange"].forEach(function (name) {
      player.addEventListener(name, showPlayed);
    });
    box.addEventListener("click", function (event) {
      var area = box.getBoundingClientRect();
      if (!area.width) { return; }
      var part = Math.min(1, Math.max(0, (event.clientX - area.left) / area.width));
      seek(player, part * duration(), false);
      showPlayed();
    });
    showPlayed();
  }

  Array.prototype.forEach.call(document.querySelectorAll(".player[data-peaks]"), function (player) {
    if (!window.fetch) { return; }
    window.fetch(player.getAttribute("data-peaks"), { credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); })
      .then(function (peaks) { drawWaveform(player, peaks); })
      .catch(function () { /* no waveform: the player works without it */ });
  });

  fromHash(false);
  window.addEventListener("hashchange", function () { fromHash(true); });
})();
