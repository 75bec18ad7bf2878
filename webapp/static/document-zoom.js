/* Zoom into an archive document on the student's writing screen: pinch with two fingers, or
   the − / + buttons (and the keyboard: + and − while the image has focus); drag to move about.
   An enhancement only: without it the image fits the width and "Open the image full size"
   lets the phone's own viewer zoom. Self-hosted, no dependency, no inline script (CSP). */
(function () {
  "use strict";
  var MIN = 1, MAX = 6, STEP = 1.5;
  Array.prototype.forEach.call(document.querySelectorAll("[data-zoom]"), function (figure) {
    var viewport = figure.querySelector(".zoom-viewport");
    var image = viewport && viewport.querySelector("img");
    var controls = figure.querySelector(".zoom-controls");
    if (!image || !controls) { return; }
    controls.hidden = false;
    var scale = 1;
    var pointers = {};
    var pinch = null;
    var drag = null;

    function setScale(next, cx, cy) {
      next = Math.max(MIN, Math.min(MAX, next));
      var rect = viewport.getBoundingClientRect();
      var ox = (cx === undefined ? rect.width / 2 : cx - rect.left);
      var oy = (cy === undefined ? rect.height / 2 : cy - rect.top);
      var fx = (viewport.scrollLeft + ox) / scale, fy = (viewport.scrollTop + oy) / scale;
      scale = next;
      image.style.width = (scale * 100) + "%";
      viewport.classList.toggle("zoomed", scale > 1);
      viewport.scrollLeft = fx * scale - ox;
      viewport.scrollTop = fy * scale - oy;
    }

    controls.addEventListener("click", function (event) {
      var button = event.target.closest("[data-zoom-step]");
      if (!button) { return; }
      var step = Number(button.getAttribute("data-zoom-step"));
      setScale(step === 0 ? 1 : (step > 0 ? scale * STEP : scale / STEP));
    });
    viewport.addEventListener("keydown", function (event) {
      if (event.key === "+" || event.key === "=") { setScale(scale * STEP); event.preventDefault(); }
      if (event.key === "-") { setScale(scale / STEP); event.preventDefault(); }
      if (event.key === "0") { setScale(1); event.preventDefault(); }
    });
    function distance() {
      var p = Object.keys(pointers).map(function (k) { return pointers[k]; });
      return Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y);
    }
    function middle() {
      var p = Object.keys(pointers).map(function (k) { return pointers[k]; });
      return { x: (p[0].x + p[1].x) / 2, y: (p[0].y + p[1].y) / 2 };
    }
    viewport.addEventListener("pointerdown", function (event) {
      pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
      var count = Object.keys(pointers).length;
      if (count === 2) { pinch = { start: distance(), scale: scale }; drag = null; }
      else if (count === 1 && scale > 1) {
        drag = { x: event.clientX, y: event.clientY, left: viewport.scrollLeft, top: viewport.scrollTop };
        viewport.setPointerCapture(event.pointerId);
      }
    });
    viewport.addEventListener("pointermove", function (event) {
      if (!pointers[event.pointerId]) { return; }
      pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
      if (pinch && Object.keys(pointers).length === 2) {
        var centre = middle();
        setScale(pinch.scale * distance() / pinch.start, centre.x, centre.y);
      } else if (drag) {
        viewport.scrollLeft = drag.left - (event.clientX - drag.x);
        viewport.scrollTop = drag.top - (event.clientY - drag.y);
      }
    });
    function release(event) {
      delete pointers[event.pointerId];
      if (Object.keys(pointers).length < 2) { pinch = null; }
      if (Object.keys(pointers).length === 0) { drag = null; }
    }
    viewport.addEventListener("pointerup", release);
    viewport.addEventListener("pointercancel", release);
    /* Two fingers on the image zoom the image, not the page. */
    viewport.addEventListener("touchmove", function (event) {
      if (event.touches.length > 1) { event.preventDefault(); }
    }, { passive: false });
  });
})();
