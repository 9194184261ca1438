// Deal forms: show the loss reason only for a lost stage and the won amount only for a
// won stage. Without this file every field shows, with a hint saying when it applies.
(function () {
  "use strict";

  function closingFields(form) {
    var kinds;
    try {
      kinds = JSON.parse(form.getAttribute("data-stage-kinds") || "{}");
    } catch (error) {
      return;
    }
    var select = form.querySelector("select[name=stage_id]");
    if (!select) {
      return;
    }
    function update() {
      var kind = kinds[select.value] || "open";
      form.querySelectorAll("[data-closing]").forEach(function (group) {
        var shown = group.getAttribute("data-closing") === kind;
        // Fields with an error stay visible, so that the message is never hidden.
        group.hidden = !shown && !group.querySelector("[aria-invalid=true]");
      });
    }
    select.addEventListener("change", update);
    update();
  }

  function init() {
    document.querySelectorAll("form[data-stage-kinds]").forEach(closingFields);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
