/* pryv explorer: copy buttons, yank dialogs. Loaded with defer; no inline script anywhere (CSP). */
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (error) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function flash(button, text, state) {
    var label = button.querySelector(".command__copy-label");
    if (!label) {
      return;
    }
    label.textContent = text;
    button.classList.add(state);
    window.clearTimeout(button.pryvTimer);
    button.pryvTimer = window.setTimeout(function () {
      label.textContent = "Copy";
      button.classList.remove(state);
    }, 2000);
  }

  // "Yank…" links lead to a confirmation page; with scripts, the page's one yank dialog opens
  // instead, its form aimed at the release or file the link names.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-yank-dialog]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    var dialog = document.getElementById(link.getAttribute("data-yank-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") {
      return;
    }
    var form = dialog.querySelector("form.yank-form");
    var file = link.getAttribute("data-yank-file") || "";
    form.setAttribute("action", link.getAttribute("data-yank-action"));
    form.elements.file.value = file;
    form.elements.reason.value = "";
    dialog.querySelector('[data-yank-slot="what"]').textContent =
      link.getAttribute("data-yank-what");
    dialog.querySelector('[data-yank-slot="button"]').textContent =
      file ? "Yank file" : "Yank release";
    event.preventDefault();
    dialog.showModal();
    form.elements.reason.focus();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) {
      return;
    }
    copy(target.textContent.trim()).then(
      function () {
        flash(button, "Copied!", "is-copied");
      },
      function () {
        flash(button, "Press Ctrl+C", "is-failed");
        var range = document.createRange();
        range.selectNodeContents(target);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    );
  });
})();
