// The search box of the top navigation: a typeahead over GET /api/v1/search (the
// session cookie authenticates it). Without this file the box is a plain form that
// opens the results page. ARIA 1.2 combobox: the input owns a listbox; the active
// option is announced through aria-activedescendant while focus stays in the input.
// User-facing text comes from the form's data-*-label attributes (translated; "{q}"
// stands for the query).
(function () {
  "use strict";

  var DELAY_MS = 200;
  var MIN_LENGTH = 2;
  var PER_KIND = 5;
  var KINDS = ["contact", "company", "deal"];

  function typeahead(form) {
    var input = form.querySelector("input[role=combobox]");
    if (!input || !window.fetch || !window.AbortController) {
      return;
    }
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var endpoint = form.getAttribute("data-typeahead");
    if (!list || !endpoint) {
      return;
    }
    var timer = null;
    var inFlight = null;
    var active = -1;

    function label(name, q) {
      var text = form.getAttribute("data-" + name + "-label") || "";
      return q === undefined ? text : text.replace("{q}", q);
    }

    function options() {
      return list.querySelectorAll("[role=option]");
    }

    function close() {
      list.hidden = true;
      list.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function activate(index) {
      var all = options();
      if (!all.length) {
        return;
      }
      active = (index + all.length) % all.length;
      all.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    }

    function allResultsUrl(q) {
      return form.action.split("?")[0] + "?" + new URLSearchParams({ q: q }).toString();
    }

    function option(id, url, title, subtitle, badge) {
      var item = document.createElement("li");
      item.id = id;
      item.className = "navsearch-option";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.setAttribute("data-url", url);
      var main = document.createElement("span");
      main.className = "navsearch-title";
      var bdi = document.createElement("bdi");
      bdi.textContent = title;
      main.appendChild(bdi);
      if (badge) {
        var tag = document.createElement("span");
        tag.className = "badge";
        tag.textContent = badge;
        main.appendChild(document.createTextNode(" "));
        main.appendChild(tag);
      }
      item.appendChild(main);
      if (subtitle) {
        var sub = document.createElement("span");
        sub.className = "navsearch-sub";
        var subBdi = document.createElement("bdi");
        subBdi.textContent = subtitle;
        sub.appendChild(subBdi);
        item.appendChild(sub);
      }
      return item;
    }

    function render(q, items) {
      list.textContent = "";
      active = -1;
      input.removeAttribute("aria-activedescendant");
      var n = 0;
      KINDS.forEach(function (kind) {
        var hits = items.filter(function (hit) {
          return hit.type === kind;
        });
        if (!hits.length) {
          return;
        }
        var heading = document.createElement("li");
        heading.className = "navsearch-group";
        heading.setAttribute("role", "presentation");
        heading.textContent = label(kind);
        list.appendChild(heading);
        hits.forEach(function (hit) {
          var badge = hit.match === "similar" ? label("similar") : "";
          list.appendChild(option("navsearch-opt-" + n++, hit.url, hit.title, hit.subtitle, badge));
        });
      });
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "navsearch-empty";
        none.setAttribute("role", "presentation");
        none.textContent = label("empty", q);
        list.appendChild(none);
      }
      var all = option("navsearch-opt-" + n, allResultsUrl(q), label("all", q), "", "");
      all.classList.add("navsearch-all");
      list.appendChild(all);
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function lookup() {
      var q = input.value.trim();
      if (inFlight) {
        inFlight.abort();
        inFlight = null;
      }
      if (q.length < MIN_LENGTH) {
        close();
        return;
      }
      inFlight = new AbortController();
      var url = endpoint + "?" + new URLSearchParams({ q: q, limit: String(PER_KIND) }).toString();
      fetch(url, {
        signal: inFlight.signal,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("search failed: " + response.status);
          }
          return response.json();
        })
        .then(function (body) {
          if (input.value.trim() === q && document.activeElement === input) {
            render(q, body.items || []);
          }
        })
        .catch(function (error) {
          if (!error || error.name !== "AbortError") {
            close(); // Enter still submits the form to the results page.
          }
        });
    }

    function go(url) {
      close();
      window.location.assign(url);
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookup, DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (list.hidden) {
          lookup();
          return;
        }
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : -1;
        // From nothing selected: down to the first option, up to the last.
        activate(active < 0 ? (step > 0 ? 0 : -1) : active + step);
      } else if (event.key === "Enter" && !list.hidden && active >= 0) {
        event.preventDefault();
        go(options()[active].getAttribute("data-url"));
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        event.stopPropagation(); // do not also close an open menu elsewhere
        close();
      }
    });
    // mousedown, not click: it comes before the input loses focus and closes the list.
    list.addEventListener("mousedown", function (event) {
      var chosen = event.target.closest("[role=option]");
      if (chosen) {
        event.preventDefault();
        go(chosen.getAttribute("data-url"));
      }
    });
    input.addEventListener("blur", function () {
      clearTimeout(timer);
      close();
    });
  }

  document.querySelectorAll("form[data-typeahead]").forEach(typeahead);
})();
