// The message editor, enhanced: recipient chips with suggestions from the annuaire, files dropped on the form,
// sizes against the operator's limit, and an autosave to Drafts. Without it the form still works as typed.
(function () {
  "use strict";
  var form = document.querySelector("form[data-compose]");
  if (!form) return;
  var labels = {}; // address -> "Name · profession · town", from the suggestions picked

  function split(value) {
    return value.split(/[,;]/).map(function (a) { return a.trim(); }).filter(Boolean);
  }

  // Recipients: the text field stays the value sent; chips show what it holds.
  form.querySelectorAll("input[data-recipients]").forEach(function (input) {
    var chips = document.createElement("ul");
    chips.className = "chips";
    input.before(chips);
    var box = document.createElement("div");
    box.className = "suggestions";
    input.after(box);
    var timer = null;

    function render() {
      chips.replaceChildren();
      split(input.value).forEach(function (address) {
        var chip = document.createElement("li");
        chip.className = "chip";
        chip.textContent = labels[address] ? labels[address] + " <" + address + ">" : address;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link-button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", form.dataset.removeLabel + " " + address);
        remove.addEventListener("click", function () {
          input.value = split(input.value).filter(function (a) { return a !== address; }).join(", ");
          render();
        });
        chip.append(" ", remove);
        chips.append(chip);
      });
    }

    function pick(option) {
      var kept = split(input.value);
      if (!/[,;]\s*$/.test(input.value)) kept.pop(); // the word being typed becomes the address
      var address = option.dataset.address;
      labels[address] = [option.dataset.name, option.dataset.details].filter(Boolean).join(" · ");
      input.value = kept.concat([address]).join(", ") + ", ";
      box.replaceChildren();
      render();
      input.focus();
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var word = input.value.split(/[,;]/).pop().trim();
      if (word.length < 2) { box.replaceChildren(); return; }
      timer = setTimeout(function () {
        fetch(form.dataset.suggestUrl + "?q=" + encodeURIComponent(word), { headers: { "HX-Request": "true" } })
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) { box.innerHTML = html; }); // our own escaped fragment, as htmx would swap it
      }, 250);
    });
    input.addEventListener("keydown", function (event) {
      var options = Array.prototype.slice.call(box.querySelectorAll("[role=option]"));
      if (!options.length) return;
      var current = options.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var next = Math.max(0, Math.min(options.length - 1, current + (event.key === "ArrowDown" ? 1 : -1)));
        options.forEach(function (o, i) { o.setAttribute("aria-selected", i === next ? "true" : "false"); });
        input.setAttribute("aria-activedescendant", options[next].id);
      } else if (event.key === "Enter" && current >= 0) {
        event.preventDefault();
        pick(options[current]);
      } else if (event.key === "Escape") {
        box.replaceChildren();
      }
    });
    // On mousedown, before the field loses focus: its change event would redraw the chips and move the list.
    box.addEventListener("mousedown", function (event) {
      var option = event.target.closest("[role=option]");
      if (!option) return;
      event.preventDefault();
      pick(option);
    });
    input.addEventListener("change", render);
    render();
  });

  // Files: picked or dropped, listed with their size; the total is checked against the operator's limit.
  var files = form.querySelector("input[type=file]");
  var picked = form.querySelector("[data-picked]");
  var zone = form.querySelector("[data-drop-zone]");
  var send = form.querySelector("button[value=send]");
  var limit = Number(form.dataset.maxBytes);

  function size(bytes) {
    return (bytes / 1000000).toLocaleString(document.documentElement.lang, { maximumFractionDigits: 1 }) + " Mo";
  }

  function check() {
    var total = 0;
    picked.replaceChildren();
    Array.prototype.forEach.call(files.files, function (file) {
      total += file.size;
      var item = document.createElement("li");
      item.textContent = file.name + " · " + size(file.size);
      picked.append(item);
    });
    form.querySelectorAll("#draft-state input[type=checkbox]:checked").forEach(function (box) {
      total += Number(box.dataset.size);
    });
    // Files travel in base64, a third bigger than on disk.
    var over = total * 4 / 3 > limit;
    if (over) {
      var warning = document.createElement("li");
      warning.className = "errors";
      warning.textContent = form.dataset.tooBig;
      picked.append(warning);
    }
    send.disabled = over;
  }

  files.addEventListener("change", check);
  form.addEventListener("change", function (event) {
    if (event.target.type === "checkbox") check();
  });
  zone.addEventListener("dragover", function (event) {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("dragging");
    var all = new DataTransfer();
    Array.prototype.forEach.call(files.files, function (f) { all.items.add(f); });
    Array.prototype.forEach.call(event.dataTransfer.files, function (f) { all.items.add(f); });
    files.files = all.files;
    check();
  });

  // Autosave: what changed goes to Drafts every 20 seconds; the saved draft's state replaces the old one.
  var dirty = false;
  var saving = false;
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  function autosave() {
    if (!dirty || saving) return;
    dirty = false;
    saving = true;
    send.disabled = true; // a send during the save would name the version the save replaces
    fetch(form.dataset.autosaveUrl, { method: "POST", body: new FormData(form), headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        form.querySelector("#draft-state").outerHTML = html;
        files.value = ""; // the saved draft carries them now
      })
      .catch(function () { dirty = true; })
      .finally(function () {
        saving = false;
        check();
      });
  }
  setInterval(autosave, 20000);
  form.addEventListener("submit", function () { dirty = false; });
  check();
})();
