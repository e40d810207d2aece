// The contract page's mapping tables: a row's argument input hints at the grammar of the
// transform chosen in its row (the catalogue is in the page as #transform-hints), also for
// rows added with "Add another".
(function () {
  "use strict";
  var hints = JSON.parse(document.getElementById("transform-hints").textContent);

  function hint(select) {
    var row = select.closest("tr");
    var arg = row && row.querySelector("input.mapping-arg");
    if (!arg) { return; }
    var grammar = hints[select.value] || "";
    arg.placeholder = select.value ? (grammar || "no argument") : "argument";
    arg.title = grammar;
    arg.disabled = Boolean(select.value) && !grammar && !arg.value;
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("select.mapping-transform")) { hint(event.target); }
  });
  document.querySelectorAll("select.mapping-transform").forEach(hint);
  document.addEventListener("formset:added", function (event) {
    event.target.querySelectorAll("select.mapping-transform").forEach(hint);
  });
})();
