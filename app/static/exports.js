// Exports. Every page works without this file: the list's menu then posts the filter
// the page was rendered with, and the exports page has a "Refresh" link.
(function () {
  "use strict";

  var PAGING = ["cursor", "sort", "limit", "segment"];
  var POLL_MS = 1500;

  // The list's search refreshes the results and the address without reloading the
  // page: post the filter the address shows now, not the one the page was drawn with.
  function exportMenus() {
    document.querySelectorAll("form[data-export-form]").forEach(function (form) {
      if (form.hasAttribute("data-export-ready")) {
        return; // the menu's script tag may be on the page more than once
      }
      form.setAttribute("data-export-ready", "");
      form.addEventListener("submit", function () {
        var field = form.querySelector("input[name=filters]");
        if (field && window.URLSearchParams) {
          var params = new URLSearchParams(window.location.search);
          PAGING.forEach(function (name) {
            params.delete(name);
          });
          field.value = params.toString();
        }
        var menu = form.closest("details");
        if (menu) {
          // A direct download keeps the page: close the menu behind it.
          setTimeout(function () {
            menu.removeAttribute("open");
          }, 0);
        }
      });
    });
  }

  // The exports page: unfinished exports poll their status, show their progress, and
  // the page reloads once one is finished (to show its download link or its error).
  function progress(list) {
    var template = list.getAttribute("data-rows-template") || "";
    var items = Array.prototype.slice.call(list.querySelectorAll("[data-export-status]"));
    if (!items.length || !window.fetch) {
      return;
    }
    items.forEach(function (item) {
      var refresh = item.querySelector("[data-export-refresh]");
      if (refresh) {
        refresh.hidden = true;
      }
    });

    function poll() {
      Promise.all(
        items.map(function (item) {
          return fetch(item.getAttribute("data-export-status"), {
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          })
            .then(function (response) {
              if (!response.ok) {
                throw new Error("status " + response.status);
              }
              return response.json();
            })
            .then(function (status) {
              var bar = item.querySelector("[data-export-progress]");
              if (bar) {
                bar.value = status.percent;
                bar.textContent = status.percent + " %";
              }
              var rows = item.querySelector("[data-export-rows]");
              if (rows && status.rows_total !== null && template) {
                rows.textContent = template
                  .replace("{written}", status.rows_written.toLocaleString())
                  .replace("{total}", status.rows_total.toLocaleString());
              }
              return status.status === "queued" || status.status === "running";
            });
        })
      )
        .then(function (moving) {
          if (moving.indexOf(false) !== -1) {
            window.location.reload();
          } else {
            setTimeout(poll, POLL_MS);
          }
        })
        .catch(function () {
          items.forEach(function (item) {
            var refresh = item.querySelector("[data-export-refresh]");
            if (refresh) {
              refresh.hidden = false;
            }
          });
        });
    }

    setTimeout(poll, POLL_MS);
  }

  function init() {
    exportMenus();
    document.querySelectorAll("[data-export-list]").forEach(progress);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
