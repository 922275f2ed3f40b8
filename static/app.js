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

  // Forms marked data-swap-errors re-render in place with their error (422): htmx swaps only
  // 2xx responses unless told otherwise.
  // The files chosen in such a form are chosen again in the form that replaces it: a browser
  // never fills a file input from the page, and picking a large file twice is no fun.
  var keptFiles = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var source = detail.requestConfig && detail.requestConfig.elt;
    if (detail.xhr.status === 422 && source instanceof Element && source.closest("[data-swap-errors]")) {
      detail.shouldSwap = true;
      detail.isError = false;
      var form = source.closest("form");
      keptFiles = {};
      if (form) {
        form.querySelectorAll("input[type=file][name]").forEach(function (input) {
          if (input.files && input.files.length) keptFiles[input.name] = input.files;
        });
      }
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!keptFiles) return;
    Object.keys(keptFiles).forEach(function (name) {
      var input = document.querySelector("form[data-swap-errors] input[type=file][name=\"" + CSS.escape(name) + "\"]");
      if (input instanceof HTMLInputElement) input.files = keptFiles[name];
    });
    keptFiles = null;
    var invalid = document.querySelector("form[data-swap-errors] [aria-invalid=true]");
    if (invalid instanceof HTMLElement) invalid.focus();
  });

  // Upload progress: the form's <progress data-upload-progress> follows the bytes sent.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target;
    var detail = event.detail;
    if (!(form instanceof Element) || !detail || !detail.lengthComputable || !detail.total) return;
    var bar = form.querySelector("progress[data-upload-progress]");
    var label = form.querySelector("[data-upload-percent]");
    if (!(bar instanceof HTMLProgressElement)) return;
    bar.max = detail.total;
    bar.value = detail.loaded;
    if (label) {
      var percent = Math.floor((100 * detail.loaded) / detail.total);
      label.textContent = percent < 100 ? "Uploading… " + percent + "%" : "Starting the import…";
    }
  });

  // A slug suggested from the name (input[data-slug-from="name"]): it follows the name until
  // someone types their own. The server checks whatever is sent.
  function slugify(text) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+/, "")
      .slice(0, 64)
      .replace(/-+$/, "");
  }

  document.addEventListener("input", function (event) {
    var source = event.target;
    if (!(source instanceof HTMLInputElement) || !source.form || !source.name) return;
    var selector = 'input[data-slug-from="' + CSS.escape(source.name) + '"]';
    var slug = source.form.querySelector(selector);
    if (!(slug instanceof HTMLInputElement)) return;
    if (slug.value !== "" && slug.value !== slug.dataset.suggested) return;
    slug.value = slugify(source.value);
    slug.dataset.suggested = slug.value;
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
