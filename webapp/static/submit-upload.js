/* Upload progress for the submission form: an enhancement only. Without it the form posts as a
   plain HTML form. With it: the chosen files are checked (count, size, type, with the limits the
   server rendered into the form) before anything is sent; the form is sent by XMLHttpRequest
   with a progress bar per file and one for the whole story; a connection that drops or stalls
   gets a clear "try again" button that resends the same body with the same idempotency key, so
   the server hands the story in once however many times it arrives. Each chosen file that is
   not a picture (audio, video, or a type the browser does not know) gets its own consent fields
   (from the page's <template>, named rec<n>_… for file n), replacing the form-wide section that
   applies to every recording without JavaScript. Self-hosted, no dependency. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  var panel = document.getElementById("upload-panel");
  if (!form || !panel || !window.FormData || !window.DOMParser) { return; }
  var probe = new XMLHttpRequest();
  if (!("upload" in probe)) { return; }

  var input = form.querySelector("input[type=file]");
  var errors = panel.querySelector(".upload-errors");
  var list = panel.querySelector(".upload-files");
  var overall = panel.querySelector(".upload-overall");
  var overallBar = panel.querySelector("#upload-overall");
  var overallPercent = panel.querySelector(".upload-percent");
  var status = panel.querySelector(".upload-status");
  var retry = panel.querySelector(".upload-retry");
  var maxFiles = parseInt(form.getAttribute("data-max-files"), 10) || 20;
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 26214400;
  var maxMb = form.getAttribute("data-max-mb") || String(Math.round(maxBytes / 1048576));
  var accepted = (form.getAttribute("data-accept") || "").split(",").filter(Boolean);
  /* Audio and video recordings have their own, larger limit. */
  var maxRecordingBytes = parseInt(form.getAttribute("data-max-recording-bytes"), 10) || maxBytes;
  var maxRecordingMb = form.getAttribute("data-max-recording-mb") || maxMb;
  var consentTemplate = document.getElementById("recording-consent-one");
  var consentForAll = form.querySelector("[data-recording-consent]");
  if (consentTemplate && consentForAll && "content" in consentTemplate) {
    /* Per-file fields take over: the form-wide section is neither shown nor sent. */
    consentForAll.hidden = true;
    Array.prototype.forEach.call(consentForAll.querySelectorAll("input"), function (field) {
      field.disabled = true;
    });
  } else {
    consentTemplate = null;
  }
  var bars = [];
  var sizes = [];
  var pending = null;  /* the body being sent, kept for "try again" */
  var sending = null;

  function message(name, values) {
    var text = panel.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (key) {
      text = text.split("{" + key + "}").join(String(values[key]));
    });
    return text;
  }
  function megabytes(bytes) { return (bytes / 1048576).toFixed(1); }
  function files() { return input && input.files ? Array.prototype.slice.call(input.files) : []; }

  function problems() {
    var found = [];
    var chosen = files();
    if (chosen.length > maxFiles) { found.push(message("too-many", { count: chosen.length, max: maxFiles })); }
    chosen.forEach(function (file) {
      var recording = /^(audio|video)\//.test(file.type || "");
      if (file.size > (recording ? maxRecordingBytes : maxBytes)) {
        found.push(message("too-big", { name: file.name, size: megabytes(file.size),
                                        max: recording ? maxRecordingMb : maxMb }));
      }
      /* An empty type (the browser did not recognise it) is left to the server, which sniffs. */
      if (file.type && accepted.length && accepted.indexOf(file.type) < 0 && file.type !== "image/heif") {
        found.push(message("wrong-type", { name: file.name }));
      }
    });
    return found;
  }

  function showErrors(found) {
    errors.textContent = "";
    found.forEach(function (text, index) {
      if (index) { errors.appendChild(document.createElement("br")); }
      errors.appendChild(document.createTextNode(text));
    });
    errors.hidden = found.length === 0;
  }

  function listFiles() {
    list.textContent = "";
    bars = [];
    sizes = [];
    files().forEach(function (file, index) {
      var item = document.createElement("li");
      var label = document.createElement("label");
      var bar = document.createElement("progress");
      bar.id = "upload-file-" + index;
      bar.max = 100;
      bar.value = 0;
      label.htmlFor = bar.id;
      label.textContent = file.name + " (" + megabytes(file.size) + " MB)";
      item.appendChild(label);
      item.appendChild(bar);
      if (consentTemplate && !/^image\//.test(file.type || "")) { item.appendChild(consentFields(file, index)); }
      list.appendChild(item);
      bars.push(bar);
      sizes.push(file.size);
    });
  }

  function consentFields(file, index) {
    var holder = document.createElement("div");
    holder.innerHTML = consentTemplate.innerHTML.split("{n}").join(String(index));
    var fields = holder.firstElementChild;
    fields.querySelector("legend").textContent = message("consent-of", { name: file.name });
    var minor = fields.querySelector("[data-minor]");
    var guardian = fields.querySelector("[data-guardian]");
    minor.addEventListener("change", function () { guardian.hidden = !minor.checked; });
    return fields;
  }

  function check(relist) {
    var found = problems();
    showErrors(found);
    input.setCustomValidity(found.length ? found[0] : "");
    /* Listed again only when the choice changed: the consent fields keep what was typed. */
    if (relist) { listFiles(); }
    panel.hidden = files().length === 0 && found.length === 0;
    return found;
  }

  function setButtons(disabled) {
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = disabled; }
  }

  function show(loaded, total) {
    var percent = total ? Math.min(100, Math.floor(loaded * 100 / total)) : 0;
    overallBar.value = percent;
    overallPercent.textContent = percent + " %";
    /* Files come last in the body (in their order); what precedes them is the text fields. */
    var sum = sizes.reduce(function (a, b) { return a + b; }, 0);
    var offset = Math.max(0, total - sum);
    bars.forEach(function (bar, index) {
      var done = Math.max(0, Math.min(sizes[index], loaded - offset));
      bar.value = sizes[index] ? Math.floor(done * 100 / sizes[index]) : 100;
      offset += sizes[index];
    });
    var step = Math.floor(percent / 10);
    if (step !== sending.step) {  /* the live region speaks every 10 %, not every event */
      sending.step = step;
      status.textContent = message("sending", { done: megabytes(loaded), total: megabytes(total) });
    }
  }

  function failed(text) {
    if (!sending) { return; }
    window.clearInterval(sending.watch);
    sending = null;
    status.textContent = "";
    showErrors([text || message("failed")]);
    retry.hidden = false;
    setButtons(false);
    retry.focus();
  }

  function send(body) {
    pending = body;
    retry.hidden = true;
    showErrors([]);
    setButtons(true);
    panel.hidden = false;
    overall.hidden = false;
    var xhr = new XMLHttpRequest();
    var stallSeconds = parseInt(form.getAttribute("data-stall-seconds"), 10) || 30;
    sending = { xhr: xhr, step: -1, last: Date.now() };
    sending.watch = window.setInterval(function () {
      if (sending && sending.uploading !== false && Date.now() - sending.last > stallSeconds * 1000) {
        var text = message("stalled", { seconds: stallSeconds }) + " " + message("failed");
        xhr.abort();
        failed(text);
      }
    }, 1000);
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("Accept", "text/html");
    xhr.upload.addEventListener("progress", function (event) {
      if (!sending) { return; }
      sending.last = Date.now();
      if (event.lengthComputable) { show(event.loaded, event.total); }
    });
    xhr.upload.addEventListener("load", function () {
      if (!sending) { return; }
      sending.uploading = false;  /* the server is checking: no stall watch while it thinks */
      overallBar.value = 100;
      overallPercent.textContent = "100 %";
      bars.forEach(function (bar) { bar.value = 100; });
      status.textContent = message("sent");
    });
    xhr.addEventListener("load", function () {
      if (!sending) { return; }
      var target = (xhr.responseURL || "").split("#")[0];
      var here = (form.action || window.location.href).split("#")[0];
      if (xhr.status >= 200 && xhr.status < 300 && target && target !== here) {
        window.clearInterval(sending.watch);
        window.location.assign(xhr.responseURL);
        return;
      }
      /* Refused (a field to fix, a file the server would not take): show the server's words. */
      var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var refusal = page.querySelector("main .flash.error");
      window.clearInterval(sending.watch);
      sending = null;
      status.textContent = "";
      showErrors([refusal ? refusal.textContent.replace(/\s+/g, " ").trim()
        : message("refused") + " HTTP " + xhr.status]);
      setButtons(false);
      errors.setAttribute("tabindex", "-1");
      errors.focus();
    });
    xhr.addEventListener("error", function () { failed(); });
    xhr.addEventListener("timeout", function () { failed(); });
    xhr.send(body);
  }

  input.addEventListener("change", function () { check(true); });
  form.addEventListener("submit", function (event) {
    var found = check();
    event.preventDefault();
    if (found.length) {
      errors.setAttribute("tabindex", "-1");
      errors.focus();
      return;
    }
    if (sending) { return; }
    var body = new FormData(form);
    var submitter = event.submitter;
    if (submitter && submitter.name) { body.append(submitter.name, submitter.value); }
    send(body);
  });
  retry.addEventListener("click", function () { if (pending && !sending) { send(pending); } });
})();
