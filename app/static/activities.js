// The activity form: show only the fields of the chosen type. Without this script every
// field shows, and the server keeps only those of the chosen type.
(function () {
  "use strict";

  function sync(form) {
    var select = form.querySelector("select[name=type]");
    var kind = select ? select.value : form.getAttribute("data-activity-type");
    form.querySelectorAll("[data-for-types]").forEach(function (part) {
      var types = part.getAttribute("data-for-types").split(" ");
      part.hidden = kind ? types.indexOf(kind) === -1 : false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-activity-form]").forEach(function (form) {
      var select = form.querySelector("select[name=type]");
      if (select) {
        select.addEventListener("change", function () { sync(form); });
      }
      sync(form);
    });
  });
})();
