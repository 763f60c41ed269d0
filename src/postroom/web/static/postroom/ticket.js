/* Keyboard shortcuts of the ticket page (docs/architecture/ticket-view.md). No build step, no dependencies.
 *
 * r reply, n internal note, a assign to me, s status, j / k next / previous message, ? help.
 * Off while the user types in a field (Esc leaves the field) and whenever Ctrl, Alt or Meta is held, so the
 * browser's and the screen reader's own keys keep working. Everything here also works without JavaScript
 * through the page's links, forms and labels; this file only saves keystrokes.
 */
(function () {
  "use strict";

  var page = document.querySelector(".ticket-page");
  if (!page) {
    return;
  }
  var help = document.getElementById("shortcut-help");
  var helpButton = page.querySelector("[data-shortcut-help]");
  var current = -1;

  function isTyping(target) {
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || target.isContentEditable) {
      return true;
    }
    if (tag !== "input") {
      return false;
    }
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "file", "hidden"].indexOf(type) === -1;
  }

  function compose(kind) {
    var radio = page.querySelector('.composer input[name="kind"][value="' + kind + '"]');
    var text = document.getElementById("reply-text");
    if (!radio || !text) {
      return false;
    }
    radio.checked = true;
    text.focus();
    return true;
  }

  function assignToMe() {
    var button = document.getElementById("assign-me");
    if (!button) {
      return false;
    }
    if (typeof button.form.requestSubmit === "function") {
      button.form.requestSubmit(button);
    } else {
      button.click();
    }
    return true;
  }

  function focusById(id) {
    var element = document.getElementById(id);
    if (!element) {
      return false;
    }
    element.focus();
    return true;
  }

  function moveMessage(step) {
    var entries = page.querySelectorAll("ol.timeline > li.entry");
    if (!entries.length) {
      return false;
    }
    var focused = Array.prototype.indexOf.call(entries, document.activeElement);
    var from = focused !== -1 ? focused : current;
    var next = from === -1 ? (step > 0 ? 0 : entries.length - 1) : from + step;
    next = Math.max(0, Math.min(entries.length - 1, next));
    if (current !== -1 && entries[current]) {
      entries[current].removeAttribute("aria-current");
    }
    current = next;
    entries[current].setAttribute("aria-current", "true");
    entries[current].focus();
    return true;
  }

  function toggleHelp() {
    if (!help || typeof help.showModal !== "function") {
      return false;
    }
    if (help.open) {
      help.close();
    } else {
      help.showModal();
    }
    return true;
  }

  var actions = {
    r: function () { return compose("reply"); },
    n: function () { return compose("note"); },
    a: assignToMe,
    s: function () { return focusById("ticket-status"); },
    j: function () { return moveMessage(1); },
    k: function () { return moveMessage(-1); },
    "?": toggleHelp
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) {
      return;
    }
    if (isTyping(event.target)) {
      if (event.key === "Escape") {
        event.target.blur();
      }
      return;
    }
    if (help && help.open && event.key !== "?") {
      return; // the dialog keeps its own keys (Esc closes it)
    }
    var action = Object.prototype.hasOwnProperty.call(actions, event.key) ? actions[event.key] : null;
    if (action && action()) {
      event.preventDefault();
    }
  });

  if (helpButton && help && typeof help.showModal === "function") {
    helpButton.hidden = false;
    helpButton.addEventListener("click", toggleHelp);
  }

  // After "Load remote images" the notice says what happened instead of offering it again.
  page.querySelectorAll("[data-remote-link]").forEach(function (link) {
    link.addEventListener("click", function () {
      var notice = link.closest(".remote-notice");
      window.setTimeout(function () {
        if (notice) {
          notice.textContent = "Remote images are loaded for this message.";
        }
      }, 0);
    });
  });
})();
