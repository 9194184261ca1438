// Signup pages: a live check of the workspace address while it is typed, and the
// progress page's polling. Both pages work without this file (the form is checked again
// on submit; the progress page reloads itself).
(function () {
  "use strict";

  function slugCheck(form) {
    var input = form.querySelector("input[name=slug]");
    var company = form.querySelector("input[name=company_name]");
    var status = document.getElementById("slug-status");
    var box = document.getElementById("slug-suggestions");
    var url = form.getAttribute("data-check-url");
    if (!input || !status || !box || !url || !window.fetch) {
      return;
    }
    var list = box.querySelector("ul");
    var timer = null;
    var inFlight = null;
    var touched = input.value !== "";

    function showSuggestions(slugs) {
      list.textContent = "";
      slugs.forEach(function (slug) {
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "chip";
        button.dir = "ltr";
        button.setAttribute("data-suggest", slug);
        button.textContent = slug;
        item.appendChild(button);
        list.appendChild(item);
      });
      box.hidden = slugs.length === 0;
    }

    function check() {
      var params = new URLSearchParams({ slug: input.value, company: company ? company.value : "" });
      if (inFlight) {
        inFlight.abort();
      }
      inFlight = new AbortController();
      fetch(url + "?" + params.toString(), {
        signal: inFlight.signal,
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("check failed");
          }
          return response.json();
        })
        .then(function (body) {
          status.textContent = body.message;
          status.className = "field-hint slug-status " + (body.available ? "is-ok" : "is-bad");
          showSuggestions(body.suggestions || []);
        })
        .catch(function () {
          status.textContent = "";
        });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    }

    input.addEventListener("input", function () {
      touched = input.value !== "";
      later();
    });
    if (company) {
      // Until the address is typed by hand, it follows the company name.
      company.addEventListener("input", function () {
        if (touched) {
          return;
        }
        input.value = company.value
          .normalize("NFKD")
          .replace(/[\u0300-\u036f]/g, "")
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, "-")
          .replace(/^-+|-+$/g, "")
          .slice(0, 40)
          .replace(/-+$/, "");
        later();
      });
    }
    box.addEventListener("click", function (event) {
      var target = event.target.closest("[data-suggest]");
      if (!target) {
        return;
      }
      input.value = target.getAttribute("data-suggest");
      touched = true;
      input.focus();
      check();
    });
  }

  function progress(card) {
    var url = card.getAttribute("data-signup-progress");
    var bar = card.querySelector("progress");
    if (!url || !bar || !window.fetch) {
      return;
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status failed");
          }
          return response.json();
        })
        .then(function (body) {
          bar.value = body.progress;
          if (body.done) {
            window.location.assign(body.next);
          } else {
            setTimeout(poll, 500);
          }
        })
        .catch(function () {
          setTimeout(poll, 2000);
        });
    }
    setTimeout(poll, 500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-signup-form]").forEach(slugCheck);
    var card = document.querySelector("[data-signup-progress]");
    if (card && card.querySelector("progress")) {
      progress(card);
    }
  });
})();
