// Keyboard use without a mouse. In a list marked data-keyboard-list, j / k move between the rows'
// links (Enter opens the focused one). Elsewhere, a link marked data-shortcut="x" is followed when
// x is pressed (its aria-keyshortcuts tells assistive technology).
(function () {
  "use strict";
  function typing(target) {
    return /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable;
  }
  function rowLinks() {
    var list = document.querySelector("[data-keyboard-list]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("tbody tr a")) : [];
  }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) {
      return;
    }
    var rows = rowLinks();
    if (rows.length && (event.key === "j" || event.key === "k")) {
      var index = rows.indexOf(document.activeElement);
      rows[event.key === "j" ? Math.min(index + 1, rows.length - 1) : Math.max(index - 1, 0)].focus();
      event.preventDefault();
      return;
    }
    var link = document.querySelector('a[data-shortcut="' + (event.key.length === 1 ? event.key : "") + '"]');
    if (link) {
      event.preventDefault();
      link.click();
    }
  });
})();
