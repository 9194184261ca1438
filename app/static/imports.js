// Imports: a progress bar for the upload, and a progress bar that follows a running
// import. Without this file the upload is a plain form post and the job page shows the
// progress when it is loaded (reloading it shows more).
(function () {
  "use strict";

  function uploadWithProgress(form) {
    var box = form.querySelector("[data-upload-progress]");
    var bar = box && box.querySelector("progress");
    var percent = box && box.querySelector("[data-upload-percent]");
    if (!box || !bar || !window.FormData) {
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action") || window.location.href);
      xhr.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) {
          var value = Math.round((progress.loaded / progress.total) * 100);
          bar.value = value;
          percent.textContent = value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        var target = new URL(xhr.responseURL || window.location.href);
        if (target.pathname !== window.location.pathname) {
          window.location.assign(target.href);
          return;
        }
        // Field errors: show the answered page in place of this one.
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = page.querySelector("main");
        if (main) {
          document.querySelector("main").replaceWith(main);
          init();
        }
      });
      xhr.addEventListener("error", function () {
        box.hidden = true;
        if (button) {
          button.disabled = false;
        }
        form.submit();
      });
      box.hidden = false;
      if (button) {
        button.disabled = true;
      }
      xhr.send(new FormData(form));
    });
  }

  function followJob(card) {
    var url = card.getAttribute("data-import-status");
    var bar = card.querySelector("[data-import-bar]");
    var label = card.querySelector("[data-import-label]");
    var processed = card.querySelector("[data-import-processed]");
    var format = new Intl.NumberFormat();
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (state) {
          if (!state) {
            return;
          }
          bar.value = state.progress;
          bar.textContent = state.progress + "%";
          label.textContent = state.status_label;
          processed.textContent = format.format(state.processed_rows);
          Object.keys(state.counts).forEach(function (name) {
            var cell = card.querySelector('[data-import-count="' + name + '"]');
            if (cell) {
              cell.textContent = format.format(state.counts[name]);
            }
          });
          if (state.active) {
            window.setTimeout(poll, 1000);
          } else {
            // Finished: the page shows the report and its links.
            window.location.reload();
          }
        })
        .catch(function () {
          window.setTimeout(poll, 5000);
        });
    }
    window.setTimeout(poll, 1000);
  }

  function init() {
    document.querySelectorAll("form[data-upload]").forEach(uploadWithProgress);
    document.querySelectorAll("[data-import-status]").forEach(followJob);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
