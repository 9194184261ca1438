// The kanban board (app/web/board.py): drag a card to another column, or open the
// board's one "Move to" dialog for a card (its "Move" button, or the M key on a focused
// card); a lost stage first asks why in a second dialog. Cards carry no form: a move
// posts the shared dialog's CSRF token and "back" with the card's deal, stage and the
// stage it was drawn in, to the board's move URL, and reads a JSON answer: the card as
// it is now and the totals of the columns the move changed. A 409 means someone else
// moved the deal first: the card goes where it really is and the board says so.
// "Load more" appends the next page of a column in place. Listeners sit on the board
// (delegation), so cards added by "Load more" or a move need no binding.
(function () {
  "use strict";

  var board, status, lostDialog, moveDialog, dragged, moving;

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("is-error", !!isError);
  }

  function columnOf(stageId) {
    return board.querySelector('[data-column][data-stage-id="' + stageId + '"]');
  }

  function fromHtml(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  function cardOf(element) {
    var card = element && element.closest ? element.closest(".board-card") : null;
    return card && card.hasAttribute("draggable") ? card : null;
  }

  function asButtons(root) {
    // Without this file "Move" is a link to the deal's page; here it opens a dialog.
    root.querySelectorAll("[data-move]").forEach(function (link) {
      link.setAttribute("role", "button");
      link.setAttribute("aria-haspopup", "dialog");
    });
  }

  function renderTotals(columns) {
    var weighted = board.getAttribute("data-weighted-label") || "{amount}";
    Object.keys(columns).forEach(function (stageId) {
      var column = columnOf(stageId);
      if (!column) {
        return;
      }
      var data = columns[stageId];
      column.querySelector("[data-count]").textContent = String(data.count);
      var list = column.querySelector("[data-totals]");
      list.textContent = "";
      data.totals.forEach(function (total) {
        var item = document.createElement("li");
        var amount = document.createElement("bdi");
        amount.textContent = total.amount_text;
        var note = document.createElement("span");
        note.className = "muted";
        note.textContent = weighted.replace("{amount}", total.weighted_text);
        item.appendChild(amount);
        item.appendChild(document.createTextNode(" "));
        item.appendChild(note);
        list.appendChild(item);
      });
    });
  }

  function place(card, answer) {
    var content = fromHtml(answer.card_html);
    asButtons(content);
    var fresh = content.firstElementChild;
    var column = columnOf(answer.stage_id);
    card.remove();
    if (column) {
      column.querySelector("[data-cards]").prepend(fresh);
    }
    renderTotals(answer.columns || {});
    return fresh;
  }

  function post(card, stageId, extra) {
    var shared = moveDialog.querySelector("form");
    var body = new FormData();
    body.set("csrf_token", shared.elements.csrf_token.value);
    body.set("back", shared.elements.back.value);
    body.set("stage_id", stageId);
    body.set("from_stage_id", card.getAttribute("data-stage-id"));
    Object.keys(extra || {}).forEach(function (name) {
      body.set(name, extra[name]);
    });
    var url = board.getAttribute("data-move-url").replace("{id}", card.getAttribute("data-deal-id"));
    card.setAttribute("aria-busy", "true");
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          return { status: response.status, answer: answer };
        });
      })
      .then(function (result) {
        card.removeAttribute("aria-busy");
        var answer = result.answer;
        if (result.status === 200) {
          place(card, answer).querySelector(".board-card-title").focus();
          say(board.getAttribute("data-moved-message"), false);
        } else if (result.status === 409 && answer.card_html) {
          place(card, answer).classList.add("is-conflict");
          say(answer.error.message, true);
        } else {
          var details = (answer.error && answer.error.details) || {};
          var messages = Object.keys(details).map(function (name) {
            return [].concat(details[name]).join(" ");
          });
          var message = (answer.error && answer.error.message) || board.getAttribute("data-failed-message");
          say([message].concat(messages).join(" "), true);
        }
      })
      .catch(function () {
        card.removeAttribute("aria-busy");
        say(board.getAttribute("data-failed-message"), true);
      });
  }

  function askWhyLost(card, stageId) {
    var form = lostDialog.querySelector("form");
    form.reset();
    lostDialog.returnValue = "";
    lostDialog.onclose = function () {
      lostDialog.onclose = null;
      if (lostDialog.returnValue !== "move") {
        say("", false);
        return;
      }
      post(card, stageId, {
        lost_reason: form.elements.lost_reason.value,
        lost_to_competitor: form.elements.lost_to_competitor.value,
      });
    };
    lostDialog.showModal();
  }

  function move(card, stageId) {
    if (String(stageId) === card.getAttribute("data-stage-id")) {
      return;
    }
    var column = columnOf(stageId);
    if (column && column.getAttribute("data-stage-kind") === "lost") {
      askWhyLost(card, stageId);
    } else {
      post(card, stageId, {});
    }
  }

  function openMoveDialog(card) {
    var select = moveDialog.querySelector("select[name=stage_id]");
    var title = card.querySelector(".board-card-title");
    moveDialog.querySelector("[data-move-title]").textContent = title ? title.textContent : "";
    select.value = card.getAttribute("data-stage-id");
    moving = card;
    moveDialog.returnValue = "";
    moveDialog.showModal();
    select.focus();
  }

  function onMoveDialogClose() {
    var card = moving;
    moving = null;
    if (!card || moveDialog.returnValue !== "move") {
      return;
    }
    move(card, moveDialog.querySelector("select[name=stage_id]").value);
  }

  function onClick(event) {
    var opener = event.target.closest("[data-move]");
    if (opener && moveDialog) {
      var card = cardOf(opener);
      if (card) {
        event.preventDefault();
        openMoveDialog(card);
      }
      return;
    }
    loadMore(event);
  }

  function onKeydown(event) {
    if (!moveDialog || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var card = cardOf(event.target);
    if (!card) {
      return;
    }
    var isSpaceOnButton = event.key === " " && event.target.hasAttribute("data-move");
    if (event.key === "m" || event.key === "M" || isSpaceOnButton) {
      event.preventDefault();
      openMoveDialog(card);
    }
  }

  function onDragStart(event) {
    var card = cardOf(event.target);
    if (!card) {
      return;
    }
    dragged = card;
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal-id"));
  }

  function onDragEnd() {
    if (dragged) {
      dragged.classList.remove("is-dragging");
      dragged = null;
    }
    board.querySelectorAll(".is-drop-target").forEach(function (c) {
      c.classList.remove("is-drop-target");
    });
  }

  function bindColumn(column) {
    column.addEventListener("dragover", function (event) {
      if (dragged) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        column.classList.add("is-drop-target");
      }
    });
    column.addEventListener("dragleave", function (event) {
      if (!column.contains(event.relatedTarget)) {
        column.classList.remove("is-drop-target");
      }
    });
    column.addEventListener("drop", function (event) {
      event.preventDefault();
      column.classList.remove("is-drop-target");
      var card = dragged;
      dragged = null;
      if (card) {
        card.classList.remove("is-dragging");
        move(card, column.getAttribute("data-stage-id"));
      }
    });
  }

  function loadMore(event) {
    var link = event.target.closest("[data-load-more]");
    if (!link) {
      return;
    }
    event.preventDefault();
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("partial", "1");
    fetch(url.toString(), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        var content = fromHtml(html);
        asButtons(content);
        link.closest("li").replaceWith(content);
      })
      .catch(function () {
        window.location.href = link.href;
      });
  }

  function init() {
    board = document.querySelector("[data-board]");
    if (!board) {
      return;
    }
    status = document.querySelector("[data-board-status]");
    lostDialog = document.querySelector("[data-lost-dialog]");
    moveDialog = document.querySelector("[data-move-dialog]");
    board.querySelectorAll("[data-column]").forEach(bindColumn);
    board.addEventListener("click", onClick);
    board.addEventListener("keydown", onKeydown);
    board.addEventListener("dragstart", onDragStart);
    board.addEventListener("dragend", onDragEnd);
    if (moveDialog) {
      asButtons(board);
      moveDialog.addEventListener("close", onMoveDialogClose);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
