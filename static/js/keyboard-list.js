// j / k move between the rows of a list marked data-keyboard-list; Enter opens the focused row's link.
(function () {
  "use strict";
  function links() {
    var list = document.querySelector("[data-keyboard-list]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("tbody tr a")) : [];
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable) {
      return;
    }
    if (event.key !== "j" && event.key !== "k") {
      return;
    }
    var all = links();
    if (!all.length) {
      return;
    }
    var index = all.indexOf(document.activeElement);
    var next = event.key === "j" ? Math.min(index + 1, all.length - 1) : Math.max(index - 1, 0);
    all[next].focus();
    event.preventDefault();
  });
})();
