// Small progressive enhancements. Every page works without this file: the features
// below only save a round trip or a click. User-facing text comes from the templates.
(function () {
  "use strict";

  // Live search: results refresh while typing (and when the sort changes) by fetching
  // the same page and swapping in its results region. The form still submits normally.
  function liveSearch(form) {
    var region = document.getElementById(form.getAttribute("data-live-search"));
    if (!region || !window.fetch || !window.DOMParser) {
      return;
    }
    var timer = null;
    var inFlight = null;

    function refresh() {
      var params = new URLSearchParams(new FormData(form));
      if (!params.get("q")) {
        params.delete("q");
      }
      var url = form.action.split("?")[0] + "?" + params.toString();
      if (inFlight) {
        inFlight.abort();
      }
      inFlight = new AbortController();
      form.setAttribute("aria-busy", "true");
      fetch(url, { signal: inFlight.signal, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok || response.redirected) {
            throw new Error("unexpected response");
          }
          return response.text();
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(region.id);
          if (!fresh) {
            throw new Error("no results region");
          }
          region.innerHTML = fresh.innerHTML;
          history.replaceState(null, "", url);
          form.removeAttribute("aria-busy");
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") {
            return;
          }
          form.removeAttribute("aria-busy");
          form.submit();
        });
    }

    var input = form.querySelector("input[type=search]");
    if (input) {
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(refresh, 250);
      });
    }
    form.querySelectorAll("[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        clearTimeout(timer);
        refresh();
      });
    });
  }

  // Confirmation dialogs: the link opens a <dialog> instead of the confirmation page.
  function dialogs() {
    document.querySelectorAll("[data-opens-dialog]").forEach(function (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-opens-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") {
        return;
      }
      opener.addEventListener("click", function (event) {
        event.preventDefault();
        dialog.showModal();
      });
    });
    document.querySelectorAll("dialog [data-closes-dialog]").forEach(function (closer) {
      closer.addEventListener("click", function (event) {
        event.preventDefault();
        closer.closest("dialog").close();
      });
    });
  }

  // Disclosure menus close on a click elsewhere and on Escape.
  function menus() {
    var open = function () {
      return document.querySelectorAll("details[data-menu][open]");
    };
    document.addEventListener("click", function (event) {
      open().forEach(function (menu) {
        if (!menu.contains(event.target)) {
          menu.removeAttribute("open");
        }
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") {
        return;
      }
      open().forEach(function (menu) {
        menu.removeAttribute("open");
        menu.querySelector("summary").focus();
      });
    });
  }

  // After a rejected form, put the cursor in the first field to fix.
  function focusFirstError() {
    if (!document.querySelector("[data-focus-on-load]")) {
      return;
    }
    var first = document.querySelector("[aria-invalid=true]");
    if (first) {
      first.focus();
    }
  }

  function init() {
    document.querySelectorAll("form[data-live-search]").forEach(liveSearch);
    dialogs();
    menus();
    focusFirstError();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
