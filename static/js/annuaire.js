// Annuaire search: arrow keys move from the search box through the results and back.
document.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const box = document.querySelector("[data-results]");
  if (!box) return;
  const links = [...document.querySelectorAll(`#${box.dataset.results} a.annuaire-name`)];
  const position = links.indexOf(document.activeElement);
  if (document.activeElement !== box && position === -1) return;
  event.preventDefault();
  const next = position + (event.key === "ArrowDown" ? 1 : -1);
  (next < 0 ? box : links[Math.min(next, links.length - 1)] || box).focus();
});
