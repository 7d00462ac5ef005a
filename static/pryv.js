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

  // "Yank…" links lead to a confirmation page; with scripts, open the same form in a dialog.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-yank-dialog]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    var dialog = document.getElementById(link.getAttribute("data-yank-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") {
      return;
    }
    event.preventDefault();
    dialog.showModal();
    var field = dialog.querySelector("input[name=reason]");
    if (field) {
      field.focus();
    }
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
