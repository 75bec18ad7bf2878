/* Progress of archivists' long jobs (exports, imports, re-derived images, queued work): an
   enhancement only. Without it the page refreshes itself (a <noscript> refresh) or shows the
   figures of the moment. With it, the element carrying data-progress-url polls that JSON every
   two seconds: its <progress> and text follow the figures, and when the job's state changes
   (it ended, or needs a decision) the page is loaded once more to show the end as the server
   writes it. A page listing several jobs (rows carrying data-job="<key>") gets each row's bar,
   percentage and state from the answer's "jobs" list, and is loaded once more when a job ends
   or a new one appears. Self-hosted, no dependency. */
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-progress-url");
  var initial = box.getAttribute("data-state");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var template = text ? text.getAttribute("data-progress-text") : "";
  var most = 0;
  var failures = 0;

  function show(data) {
    if (bar) {
      if (typeof data.total === "number") {
        bar.max = Math.max(1, data.total);
        bar.value = data.done || 0;
      } else if (typeof data.outstanding === "number") {
        most = Math.max(most, data.outstanding, parseInt(bar.getAttribute("max"), 10) || 0);
        bar.max = Math.max(1, most);
        bar.value = most - data.outstanding;
      }
    }
    if (text && template) {
      var words = template;
      Object.keys(data).forEach(function (key) {
        var value = data[key] === null || data[key] === undefined ? "—" : String(data[key]);
        words = words.split("{" + key + "}").join(value);
      });
      if (text.textContent !== words) { text.textContent = words; }
    }
  }

  function setText(row, selector, words) {
    var element = row.querySelector(selector);
    if (element && typeof words === "string" && element.textContent !== words) {
      element.textContent = words;
    }
  }

  // Each listed job's row follows its figures; true when the page must be loaded again.
  function showJobs(jobs) {
    if (!Array.isArray(jobs)) { return false; }
    var changed = false;
    jobs.forEach(function (job) {
      var row = document.querySelector('[data-job="' + job.key + '"]');
      if (!row) { changed = true; return; }
      if ((row.getAttribute("data-job-ended") === "yes") !== Boolean(job.ended)) {
        changed = true;
      }
      var jobBar = row.querySelector("progress");
      if (jobBar && typeof job.percent === "number") {
        var max = job.total > 0 ? job.total : 100;
        jobBar.max = max;
        jobBar.value = job.total > 0 ? (job.state === "done" ? job.total : job.done) : job.percent;
      }
      setText(row, "[data-job-percent]", job.percent_label);
      setText(row, "[data-job-count]", job.count_label);
      setText(row, "[data-job-state]", job.state_label);
    });
    return changed;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        if ((initial && data.state && data.state !== initial) || showJobs(data.jobs)) {
          window.location.reload();
          return;
        }
        show(data);
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        failures += 1;
        if (failures < 10) { window.setTimeout(poll, 5000); }
      });
  }
  window.setTimeout(poll, 2000);
})();
