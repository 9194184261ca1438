// @mentions in comment boxes: typing "@" and a few letters lists the workspace's active
// members (GET the form's data-members-url, the API's member search); picking one puts
// "@Name" in the text, and sending the form writes each picked name as the stored token
// "@[Name](user:<id>)". Members who can not see the record are listed but can not be
// picked. Without this file the form still works: tokens can be typed as they are.
// Keyboard: arrow keys move, Enter or Tab picks, Escape closes. User-facing text comes
// from the form's data attributes (the templates translate it).
(function () {
  "use strict";

  var TOKEN = /@\[([^\[\]\r\n]{1,200})\]\(user:([1-9][0-9]{0,18})\)/g;
  // "@" at the start or after a space or bracket, then at most two words being typed.
  var QUERY = /(^|[\s(])@([^\s@\[\]()]{0,40}(?: [^\s@\[\]()]{0,40})?)$/;
  var counter = 0;

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function setup(form) {
    var textarea = form.querySelector("textarea[data-mentions]");
    var url = form.getAttribute("data-members-url");
    if (!textarea || !url || !window.fetch) {
      return;
    }
    counter += 1;
    var listId = (textarea.id || "mentions-" + counter) + "-members";
    var picked = {}; // display name -> user id
    var options = [];
    var active = -1;
    var start = -1; // where the "@" being completed is
    var timer = null;
    var inFlight = null;

    // Stored tokens read as "@Name" while editing; they are written back on submit.
    textarea.value = textarea.value.replace(TOKEN, function (_match, name, id) {
      picked[name] = id;
      return "@" + name;
    });

    var list = document.createElement("ul");
    list.id = listId;
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", form.getAttribute("data-list-label") || "");
    list.hidden = true;
    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    textarea.insertAdjacentElement("afterend", list);
    list.insertAdjacentElement("afterend", status);
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-controls", listId);

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      options = [];
      active = -1;
      start = -1;
      textarea.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      options.forEach(function (option, i) {
        option.el.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index >= 0) {
        textarea.setAttribute("aria-activedescendant", options[index].el.id);
        options[index].el.scrollIntoView({ block: "nearest" });
      } else {
        textarea.removeAttribute("aria-activedescendant");
      }
    }

    function pick(index) {
      var option = options[index];
      if (!option || option.member.can_view === false) {
        return;
      }
      var name = option.member.name.replace(/[\[\]\r\n\t]+/g, " ").trim();
      var caret = textarea.selectionStart;
      var before = textarea.value.slice(0, start);
      var after = textarea.value.slice(caret);
      var inserted = "@" + name + " ";
      textarea.value = before + inserted + after;
      var position = before.length + inserted.length;
      textarea.setSelectionRange(position, position);
      picked[name] = String(option.member.id);
      close();
      textarea.focus();
    }

    function render(members) {
      list.innerHTML = "";
      options = members.map(function (member, i) {
        var el = document.createElement("li");
        el.id = listId + "-" + i;
        el.className = "mention-option";
        el.setAttribute("role", "option");
        el.setAttribute("aria-selected", "false");
        el.textContent = member.name;
        if (member.can_view === false) {
          el.setAttribute("aria-disabled", "true");
          var note = document.createElement("span");
          note.className = "mention-note";
          note.textContent = " " + (form.getAttribute("data-cannot-see") || "");
          el.appendChild(note);
        }
        el.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the caret in the text
        });
        el.addEventListener("click", function () {
          pick(i);
        });
        list.appendChild(el);
        return { el: el, member: member };
      });
      if (!options.length) {
        var empty = document.createElement("li");
        empty.className = "mention-empty";
        empty.textContent = form.getAttribute("data-no-match") || "";
        list.appendChild(empty);
      }
      list.hidden = false;
      status.textContent = options.length
        ? (form.getAttribute("data-found") || "") + " " + options.length
        : form.getAttribute("data-no-match") || "";
      var first = options.findIndex(function (o) {
        return o.member.can_view !== false;
      });
      highlight(first);
    }

    function lookup() {
      var caret = textarea.selectionStart;
      if (caret !== textarea.selectionEnd) {
        close();
        return;
      }
      var match = QUERY.exec(textarea.value.slice(0, caret));
      if (!match) {
        close();
        return;
      }
      start = caret - match[2].length - 1;
      var query = match[2];
      if (inFlight) {
        inFlight.abort();
      }
      inFlight = new AbortController();
      var separator = url.indexOf("?") === -1 ? "?" : "&";
      fetch(url + separator + "limit=8&q=" + encodeURIComponent(query), {
        signal: inFlight.signal,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("member search failed");
          }
          return response.json();
        })
        .then(function (body) {
          if (start >= 0) {
            render(body.items || []);
          }
        })
        .catch(function (error) {
          if (!error || error.name !== "AbortError") {
            close();
          }
        });
    }

    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookup, 120);
    });
    textarea.addEventListener("keydown", function (event) {
      if (list.hidden) {
        return;
      }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!options.length) {
          return;
        }
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + options.length) % options.length);
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
        event.preventDefault();
        pick(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    textarea.addEventListener("blur", function () {
      setTimeout(close, 150);
    });

    form.addEventListener("submit", function () {
      // Longest names first, so that "@Ann Lee" is not taken for "@Ann".
      var names = Object.keys(picked).sort(function (a, b) {
        return b.length - a.length;
      });
      var text = textarea.value;
      names.forEach(function (name) {
        var pattern = new RegExp("@" + escapeRegExp(name) + "(?![\\p{L}\\p{N}_])", "gu");
        text = text.replace(pattern, function () {
          return "@[" + name + "](user:" + picked[name] + ")";
        });
      });
      textarea.value = text;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-members-url]").forEach(setup);
  });
})();
