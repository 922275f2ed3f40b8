/* Sift: a little progressive enhancement. Every page works without this file.
 * Loaded from a static file (the Content-Security-Policy allows no inline script). */
(function () {
  "use strict";

  // Lets CSS tell "htmx will handle this link" apart from "a plain link" (Load more / Next page).
  document.documentElement.classList.add("js");

  // Keep pushed URLs tidy: drop empty filter fields (?q=tea, not ?q=tea&status=&language=).
  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (!detail || detail.verb !== "get") return;
    var params = detail.parameters;
    Object.keys(params).forEach(function (key) {
      if (params[key] === "") delete params[key];
    });
  });

  function isTyping(target) {
    if (!(target instanceof Element)) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  function follow(selector) {
    var link = document.querySelector(selector);
    if (link instanceof HTMLAnchorElement) window.location.assign(link.href);
  }

  // Keyboard shortcuts: "/" searches, j / k move to the next / previous example.
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape" && event.target instanceof HTMLInputElement) {
      event.target.blur();
      return;
    }
    if (isTyping(event.target)) return;
    if (event.key === "/") {
      var search = document.querySelector('[data-shortcut="/"]');
      if (search instanceof HTMLInputElement) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "j") {
      follow('.prev-next a[rel="next"]');
    } else if (event.key === "k") {
      follow('.prev-next a[rel="prev"]');
    }
  });
})();
