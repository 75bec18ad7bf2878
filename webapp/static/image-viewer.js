/* Full-screen image viewer for the story page: an enhancement only. Without it, each picture is
   a link to its large version. With it, the link opens a <dialog> over the page showing the large
   picture; two fingers pinch to zoom, one finger (or the mouse) drags a zoomed picture, a double
   tap or the +/− buttons and keys zoom; Escape or the close button closes it and focus goes back
   to the picture that opened it. Self-hosted, no dependency, no inline style (CSSOM only). */
(function () {
  "use strict";
  var dialog = document.getElementById("viewer");
  if (!dialog || typeof dialog.showModal !== "function") { return; }
  var stage = dialog.querySelector(".viewer-stage");
  var image = stage.querySelector("img");
  var caption = dialog.querySelector("#viewer-caption");
  var opener = null;
  var scale = 1, x = 0, y = 0;
  var pointers = {};
  var pinch = null, drag = null, lastTap = 0;

  function apply() {
    if (scale <= 1) { scale = 1; x = 0; y = 0; }
    image.style.transform = "translate(" + x + "px, " + y + "px) scale(" + scale + ")";
    image.setAttribute("data-scale", scale.toFixed(2));
  }
  function zoom(factor) { scale = Math.max(1, Math.min(6, scale * factor)); apply(); }
  function reset() { scale = 1; x = 0; y = 0; apply(); }

  function open(link) {
    var picture = link.querySelector("img");
    opener = link;
    image.src = link.getAttribute("href");
    image.alt = picture ? picture.alt : "";
    caption.textContent = picture ? picture.alt : "";
    reset();
    dialog.showModal();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.zoom") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    open(link);
  });
  dialog.querySelector(".viewer-close").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("close", function () {
    image.removeAttribute("src");
    if (opener) { opener.focus(); }
  });
  Array.prototype.forEach.call(dialog.querySelectorAll("[data-zoom]"), function (button) {
    button.addEventListener("click", function () {
      zoom(button.getAttribute("data-zoom") === "in" ? 1.5 : 1 / 1.5);
    });
  });
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "+" || event.key === "=") { zoom(1.5); event.preventDefault(); }
    if (event.key === "-" || event.key === "_") { zoom(1 / 1.5); event.preventDefault(); }
    if (event.key === "0") { reset(); event.preventDefault(); }
  });
  stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2);
  }, { passive: false });

  function distance() {
    var ids = Object.keys(pointers);
    var a = pointers[ids[0]], b = pointers[ids[1]];
    return Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY) || 1;
  }
  stage.addEventListener("pointerdown", function (event) {
    pointers[event.pointerId] = { clientX: event.clientX, clientY: event.clientY };
    if (stage.setPointerCapture) { stage.setPointerCapture(event.pointerId); }
    var count = Object.keys(pointers).length;
    if (count === 2) {
      pinch = { distance: distance(), scale: scale };
      drag = null;
    } else if (count === 1) {
      var now = Date.now();
      if (now - lastTap < 300) { if (scale > 1) { reset(); } else { zoom(2.5); } }
      lastTap = now;
      drag = { x: event.clientX - x, y: event.clientY - y };
    }
  });
  stage.addEventListener("pointermove", function (event) {
    if (!pointers[event.pointerId]) { return; }
    pointers[event.pointerId] = { clientX: event.clientX, clientY: event.clientY };
    if (pinch && Object.keys(pointers).length >= 2) {
      scale = Math.max(1, Math.min(6, pinch.scale * distance() / pinch.distance));
      apply();
    } else if (drag && scale > 1) {
      x = event.clientX - drag.x;
      y = event.clientY - drag.y;
      apply();
    }
  });
  function lift(event) {
    delete pointers[event.pointerId];
    if (Object.keys(pointers).length < 2) { pinch = null; }
    if (Object.keys(pointers).length === 0) { drag = null; }
  }
  stage.addEventListener("pointerup", lift);
  stage.addEventListener("pointercancel", lift);
})();
