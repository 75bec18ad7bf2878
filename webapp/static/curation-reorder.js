/* Drag-to-reorder for the curation table: an enhancement only. Without it, the "Move up/down"
   buttons and the typed positions do the same job; with it, dropping a row renumbers the
   position fields, and "Save the typed order" sends them. Self-hosted, no dependency. */
(function () {
  "use strict";
  var body = document.querySelector("table.items tbody");
  if (!body || !("draggable" in document.createElement("tr"))) { return; }
  var dragged = null;
  function renumber() {
    var inputs = body.querySelectorAll("input[name^='position-']");
    for (var i = 0; i < inputs.length; i++) { inputs[i].value = String(i + 1); }
  }
  Array.prototype.forEach.call(body.rows, function (row) {
    row.draggable = true;
    row.addEventListener("dragstart", function (event) {
      dragged = row;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", row.id);
    });
    row.addEventListener("dragover", function (event) { event.preventDefault(); });
    row.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!dragged || dragged === row) { return; }
      var rect = row.getBoundingClientRect();
      var after = event.clientY > rect.top + rect.height / 2;
      body.insertBefore(dragged, after ? row.nextSibling : row);
      renumber();
    });
    row.addEventListener("dragend", function () { dragged = null; });
  });
}());
