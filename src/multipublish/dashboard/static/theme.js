// Runs before the stylesheet applies: the remembered theme (light/dark) or the system's.
"use strict";
(function () {
  try {
    const saved = localStorage.getItem("mp-theme");
    if (saved === "dark" || saved === "light") document.documentElement.dataset.theme = saved;
  } catch (e) { /* storage disabled: follow prefers-color-scheme */ }
})();
