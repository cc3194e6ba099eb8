// "/" focuses the search box, as on many sites; Escape leaves it.
document.addEventListener("keydown", function (e) {
  var q = document.getElementById("q");
  if (!q) return;
  var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
  if (e.key === "/" && !typing) { e.preventDefault(); q.focus(); q.select(); }
  else if (e.key === "Escape" && document.activeElement === q) { q.blur(); }
});
