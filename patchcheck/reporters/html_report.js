// patchcheck HTML report: filter and sort the results tables (inlined; no network, no library).
(function () {
  "use strict";
  var filter = document.getElementById("pc-filter");
  var verdict = document.getElementById("pc-verdict");
  var shown = document.getElementById("pc-shown");
  var tables = Array.prototype.slice.call(document.querySelectorAll("table.results"));

  function rows(table) {
    return Array.prototype.slice.call(table.tBodies[0].rows);
  }

  function apply() {
    var text = filter.value.trim().toLowerCase();
    var want = verdict.value;
    var visible = 0, total = 0;
    tables.forEach(function (table) {
      rows(table).forEach(function (row) {
        var ok = (!want || row.getAttribute("data-verdict") === want) &&
                 (!text || row.textContent.toLowerCase().indexOf(text) !== -1);
        row.classList.toggle("hidden", !ok);
        total += 1;
        if (ok) { visible += 1; }
      });
    });
    shown.textContent = visible + " of " + total + " shown";
    document.querySelectorAll(".count[data-verdict]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-verdict") === want));
    });
  }

  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var key = th.getAttribute("data-key");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var sorted = rows(table).map(function (row, position) {
      var cell = row.cells[index];
      var value = cell.getAttribute("data-value");
      if (value === null) { value = cell.textContent.trim().toLowerCase(); }
      return { row: row, value: key === "number" ? parseFloat(value) : value, position: position };
    });
    sorted.sort(function (a, b) {
      var order = a.value < b.value ? -1 : a.value > b.value ? 1 : a.position - b.position;
      return ascending ? order : -order;
    });
    sorted.forEach(function (item) { body.appendChild(item.row); });
  }

  tables.forEach(function (table) {
    table.querySelectorAll("th[data-key] button").forEach(function (button) {
      button.addEventListener("click", function () { sortBy(table, button.parentNode); });
    });
  });
  document.querySelectorAll(".count[data-verdict]").forEach(function (button) {
    button.addEventListener("click", function () {
      var v = button.getAttribute("data-verdict");
      verdict.value = verdict.value === v ? "" : v;
      apply();
    });
  });
  filter.addEventListener("input", apply);
  verdict.addEventListener("change", apply);
  apply();
}());
