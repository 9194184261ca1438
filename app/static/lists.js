// Record lists: the bulk action bar (row selection, "select the whole page", the
// inputs each action needs), short URLs for the filter panel, and the progress of a
// large bulk edit. Everything works without this file; it saves clicks and reloads.
// Listeners are delegated to the document: a live search replaces the list's rows.
(function () {
  "use strict";

  function rows() {
    return document.querySelectorAll('input[name="ids"][form="bulk-form"]');
  }

  function refreshBar() {
    var form = document.getElementById("bulk-form");
    if (!form) {
      return;
    }
    var all = form.querySelector("[data-all-matching]");
    var checked = Array.prototype.filter.call(rows(), function (box) {
      return box.checked;
    }).length;
    var count = form.querySelector("[data-bulk-count]");
    if (count) {
      // The wording comes from the template (translated), with {n} for the number.
      var wording = count.getAttribute("data-bulk-count") || "{n}";
      count.textContent = all && all.checked ? "" : checked ? wording.replace("{n}", checked) : "";
    }
    form.classList.toggle("has-selection", checked > 0 || (all && all.checked));
    var page = document.querySelector("[data-select-page]");
    if (page) {
      page.hidden = false;
      page.checked = checked > 0 && checked === rows().length;
      page.indeterminate = checked > 0 && checked < rows().length;
    }
    var action = form.querySelector("[data-bulk-action]");
    form.querySelectorAll("[data-bulk-param]").forEach(function (input) {
      var wanted = input.getAttribute("data-bulk-param").split(" ");
      var shown = action && wanted.indexOf(action.value) !== -1;
      input.hidden = !shown;
      input.disabled = !shown;
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-page]")) {
      rows().forEach(function (box) {
        box.checked = target.checked;
      });
    }
    if (
      target.matches &&
      target.matches(
        '[data-select-page], [data-all-matching], [data-bulk-action], input[name="ids"]'
      )
    ) {
      refreshBar();
    }
  });

  // A live search swaps the rows (and the bar); set the new ones up again.
  var results = document.getElementById("results");
  if (results && window.MutationObserver) {
    new MutationObserver(refreshBar).observe(results, { childList: true });
  }

  // The filter panel sends only the filters that are set: short, shareable URLs.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.querySelector || !form.querySelector(".filter-panel")) {
      return;
    }
    form.querySelectorAll(".filter-panel input, .filter-panel select").forEach(function (input) {
      if (!input.value) {
        input.disabled = true;
      }
    });
  });

  // A large bulk edit: follow its progress, and show the result when it is done.
  function follow(card) {
    var url = card.getAttribute("data-bulk-progress");
    var bar = card.querySelector("[data-bulk-bar]");
    var label = card.querySelector("[data-bulk-label]");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (state) {
          if (state.status === "done" || state.status === "failed") {
            window.location.reload();
            return;
          }
          if (bar) {
            bar.value = state.percent;
            bar.textContent = state.percent + "%";
          }
          if (label) {
            label.textContent = label.textContent.replace(/^[0-9,.\s]+/, state.processed + " ");
          }
          setTimeout(poll, 1000);
        })
        .catch(function () {
          setTimeout(poll, 3000);
        });
    }
    setTimeout(poll, 1000);
  }

  function start() {
    refreshBar();
    var card = document.querySelector("[data-bulk-progress]");
    var status = card && card.getAttribute("data-status");
    if (card && window.fetch && (status === "queued" || status === "running")) {
      follow(card);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
