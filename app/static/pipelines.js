// Pipeline settings: drag a stage by its handle to reorder the stages. The new order is
// posted to the API with the pipeline version the page showed; a 409 means someone else
// changed the stages meanwhile, and the page says so instead of mixing two orders.
// Without this file the move up / move down buttons do the same, one step at a time.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function rows(list) {
    return Array.prototype.slice.call(list.querySelectorAll("[data-stage-id]"));
  }

  function order(list) {
    return rows(list).map(function (row) {
      return Number(row.getAttribute("data-stage-id"));
    });
  }

  function refreshButtons(list) {
    var all = rows(list);
    all.forEach(function (row, index) {
      var up = row.querySelector('button[value="up"]');
      var down = row.querySelector('button[value="down"]');
      if (up) {
        up.disabled = index === 0;
      }
      if (down) {
        down.disabled = index === all.length - 1;
      }
    });
    list.querySelectorAll("[data-version-input]").forEach(function (input) {
      input.value = list.getAttribute("data-version");
    });
  }

  function announce(message) {
    var status = document.querySelector("[data-reorder-status]");
    if (status) {
      status.textContent = message;
    }
  }

  function save(list, onDone) {
    var body = {
      stage_ids: order(list),
      version: Number(list.getAttribute("data-version")),
    };
    fetch(list.getAttribute("data-reorder-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(function (payload) {
          return { status: response.status, payload: payload };
        });
      })
      .then(function (result) {
        if (result.status === 200) {
          list.setAttribute("data-version", String(result.payload.version));
          refreshButtons(list);
          announce(list.getAttribute("data-saved-message"));
          onDone(true);
          return;
        }
        if (result.status === 409) {
          var error = document.querySelector("[data-reorder-error]");
          if (error) {
            error.hidden = false;
          }
        } else {
          announce(list.getAttribute("data-failed-message"));
        }
        onDone(false);
      })
      .catch(function () {
        announce(list.getAttribute("data-failed-message"));
        onDone(false);
      });
  }

  function setup(list) {
    var dragged = null;
    var saved = order(list).join(",");

    rows(list).forEach(function (row) {
      var handle = row.querySelector("[data-drag-handle]");
      if (!handle) {
        return;
      }
      handle.hidden = false;
      handle.setAttribute("draggable", "true");
      handle.addEventListener("dragstart", function (event) {
        dragged = row;
        row.classList.add("dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", row.getAttribute("data-stage-id"));
        if (event.dataTransfer.setDragImage) {
          event.dataTransfer.setDragImage(row, 10, 10);
        }
      });
      handle.addEventListener("dragend", function () {
        row.classList.remove("dragging");
        dragged = null;
        var now = order(list).join(",");
        if (now === saved) {
          return;
        }
        list.setAttribute("aria-busy", "true");
        save(list, function (ok) {
          list.removeAttribute("aria-busy");
          if (ok) {
            saved = now;
          }
        });
      });
    });

    list.addEventListener("dragover", function (event) {
      if (!dragged) {
        return;
      }
      event.preventDefault();
      var target = event.target.closest ? event.target.closest("[data-stage-id]") : null;
      if (!target || target === dragged || target.parentNode !== list) {
        return;
      }
      var box = target.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? target.nextSibling : target);
    });
    list.addEventListener("drop", function (event) {
      if (dragged) {
        event.preventDefault();
      }
    });
  }

  function init() {
    document.querySelectorAll("[data-stage-list]").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
