// GreenLoop dashboard: the phone menu. Loaded without defer so the page is marked as
// having script ("js" on <html>) before it is drawn; the CSS then keeps the menu closed
// under 700 px until the Menu button opens it. Without script the menu is a plain list.
"use strict";

document.documentElement.classList.replace("no-js", "js");

document.addEventListener("DOMContentLoaded", function () {
  const button = document.querySelector("button.nav-toggle");
  const menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!button || !menu) return;
  button.hidden = false;

  function set(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  }

  button.addEventListener("click", function () {
    set(button.getAttribute("aria-expanded") !== "true");
  });
  // Escape closes an open menu and gives the focus back to its button.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      set(false);
      button.focus();
    }
  });
});
