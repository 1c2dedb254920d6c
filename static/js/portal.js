/* The portal's only script (besides htmx): theme, menu, time zone, keyboard. No inline script anywhere (CSP). */
(function () {
  "use strict";

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  function post(url, data) {
    var body = new URLSearchParams(data);
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    });
  }

  function setCookie(name, value) {
    document.cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=31536000; samesite=lax";
  }

  /* Theme: auto (follows the OS) -> light -> dark -> auto. Persisted server-side in the user's preferences. */
  function initTheme() {
    var button = document.getElementById("theme-toggle");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var order = ["auto", "light", "dark"];
      var current = document.documentElement.getAttribute("data-theme") || "auto";
      var next = order[(order.indexOf(current) + 1) % order.length];
      document.documentElement.setAttribute("data-theme", next);
      button.setAttribute("data-theme-current", next);
      button.setAttribute("aria-label", "Switch theme (now: " + next + ")");
      button.title = "Theme: " + next;
      setCookie("theme", next);
      var url = document.body.getAttribute("data-theme-url");
      if (url) { post(url, { theme: next }); }
    });
  }

  function initMenu() {
    var button = document.getElementById("menu-toggle");
    if (!button) { return; }
    button.addEventListener("click", function () {
      if (window.matchMedia("(max-width: 800px)").matches) {
        document.body.classList.toggle("menu-open");
        button.setAttribute("aria-expanded", document.body.classList.contains("menu-open") ? "true" : "false");
        return;
      }
      var collapsed = document.body.classList.toggle("menu-collapsed");
      button.setAttribute("aria-expanded", collapsed ? "false" : "true");
      setCookie("menu", collapsed ? "collapsed" : "open");
    });
    button.setAttribute("aria-expanded", document.body.classList.contains("menu-collapsed") ? "false" : "true");
  }

  /* Time zone: the browser's, unless the user picked one in Preferences. Sent once when it differs. */
  function initTimezone() {
    var body = document.body;
    var url = body.getAttribute("data-timezone-url");
    if (!url || body.getAttribute("data-timezone-from-browser") !== "1") { return; }
    var tz;
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (tz && tz !== body.getAttribute("data-timezone")) {
      post(url, { timezone: tz }).then(function (r) {
        if (r.ok) { body.setAttribute("data-timezone", tz); body.setAttribute("data-timezone-reload", "1"); }
      });
    }
  }

  /* Keyboard: "/" search, "?" help, j/k move through a list (only while focus is in it), x select, a assign,
     Esc close. Single-key shortcuts can be switched off in Preferences (WCAG 2.1.4): body[data-shortcuts=off]. */
  function typingIn(target) {
    var tag = (target && target.tagName) || "";
    if (tag === "INPUT") { return !/^(checkbox|radio|button|submit|reset)$/.test(target.type || ""); }
    return tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function shortcutsOn() { return document.body.getAttribute("data-shortcuts") !== "off"; }

  function listOf(target) { return target && target.closest ? target.closest("[data-list]") : null; }

  function rows(list) { return Array.prototype.slice.call((list || document).querySelectorAll("[data-row-url]")); }

  function markCurrent(row) {
    rows().forEach(function (r) { r.classList.remove("is-current"); r.removeAttribute("aria-selected"); });
    if (row) { row.classList.add("is-current"); row.setAttribute("aria-selected", "true"); }
  }

  function moveCurrent(list, delta) {
    var all = rows(list);
    if (!all.length) { return; }
    var index = all.findIndex(function (r) { return r.classList.contains("is-current"); });
    var focused = document.activeElement && document.activeElement.closest("[data-row-url]");
    if (focused) { index = all.indexOf(focused); }
    var next = index === -1 ? (delta > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, index + delta));
    markCurrent(all[next]);
    all[next].scrollIntoView({ block: "nearest" });
    var link = all[next].querySelector("[data-pane-link]") || all[next].querySelector("a");
    if (link) {
      link.focus({ preventScroll: true });
      if (link.hasAttribute("data-pane-link")) { link.click(); }  /* the side pane follows */
    }
  }

  function currentRow() { return document.querySelector("[data-row-url].is-current"); }

  function showHelp(show) {
    var modal = document.getElementById("shortcut-help");
    if (!modal) { return false; }
    var wasOpen = !modal.hidden;
    modal.hidden = !show;
    if (show) { var b = modal.querySelector("[data-close-modal]"); if (b) { b.focus(); } }
    return wasOpen;
  }

  function initKeyboard() {
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.key === "Escape") {
        if (showHelp(false)) { return; }
        if (typingIn(event.target)) { return; }  /* Esc in the pane's comment box keeps what was typed */
        if (window.portalPane && window.portalPane.close(true)) { event.preventDefault(); }
        return;
      }
      if (typingIn(event.target) || !shortcutsOn()) { return; }
      var row, list = listOf(event.target);
      switch (event.key) {
        case "/":
          var search = document.getElementById("global-search-input");
          if (search) { event.preventDefault(); search.focus(); search.select(); }
          break;
        case "?": event.preventDefault(); showHelp(true); break;
        case "j": if (list) { event.preventDefault(); moveCurrent(list, 1); } break;
        case "k": if (list) { event.preventDefault(); moveCurrent(list, -1); } break;
        case "x":
          row = list && (event.target.closest("[data-row-url]") || currentRow());
          if (row) {
            var box = row.querySelector("input[type=checkbox]");
            if (box) { event.preventDefault(); box.click(); }
          }
          break;
        case "a":
          var assign = document.querySelector("[data-shortcut-assign]");
          row = (list && event.target.closest("[data-row-url]")) || currentRow();
          if (row && assign) {
            var mine = row.querySelector("input[type=checkbox]");
            if (mine && !mine.checked && !document.querySelector("[data-row-url] input[type=checkbox]:checked")) { mine.checked = true; }
          }
          if (assign) { event.preventDefault(); assign.click(); }
          break;
      }
    });
    document.addEventListener("click", function (event) {
      if (event.target.closest("[data-open-modal]")) { showHelp(true); }
      if (event.target.closest("[data-close-modal]")) { showHelp(false); }
      var modal = document.getElementById("shortcut-help");
      if (modal && event.target === modal) { showHelp(false); }
    });
  }

  /* Generic helpers used by pages: [data-select-all] checkboxes and [data-confirm] buttons. */
  /* Links that carry the list's current filter (exports, "Save view") follow it when htmx changes the filter:
     data-follow-query="" appends the filter; data-follow-query="query" passes it as ?query=. */
  function followQuery() {
    var params = new URLSearchParams(window.location.search);
    params.delete("cursor");
    var filter = params.toString();
    document.querySelectorAll("[data-follow-query]").forEach(function (link) {
      var base = link.getAttribute("href").split("?")[0];
      var name = link.getAttribute("data-follow-query");
      link.setAttribute("href", name ? base + "?" + name + "=" + encodeURIComponent(filter) : base + (filter ? "?" + filter : ""));
    });
  }

  function initHelpers() {
    document.body.addEventListener("htmx:pushedIntoHistory", followQuery);
    document.addEventListener("change", function (event) {
      var all = event.target.closest("[data-select-all]");
      if (all) {
        var scope = document.querySelector(all.getAttribute("data-select-all"));
        if (scope) {
          scope.querySelectorAll("input[type=checkbox][name]").forEach(function (box) { box.checked = all.checked; });
        }
      }
      document.dispatchEvent(new CustomEvent("portal:selection"));
    });
    document.addEventListener("click", function (event) {
      var confirmEl = event.target.closest("[data-confirm]");
      if (confirmEl && !window.confirm(confirmEl.getAttribute("data-confirm"))) { event.preventDefault(); event.stopPropagation(); }
    }, true);
    document.addEventListener("portal:selection", function () {
      document.querySelectorAll("[data-selection-count]").forEach(function (el) {
        var scope = document.querySelector(el.getAttribute("data-selection-count"));
        var n = scope ? scope.querySelectorAll("input[type=checkbox][name]:checked").length : 0;
        el.textContent = n ? n + " selected" : "";
      });
    });
  }

  function init() {
    initTheme();
    initMenu();
    initTimezone();
    initKeyboard();
    initHelpers();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  window.portal = { csrfToken: csrfToken, post: post };
})();

/* Security alerts filters: show the custom range inputs only for "Custom range". */
(function () {
  "use strict";
  function sync() {
    var form = document.getElementById("alert-filters");
    var range = document.getElementById("id_range");
    if (form && range) { form.classList.toggle("range-custom", range.value === "custom"); }
  }
  /* Choosing "Custom range", or typing its dates, waits for Apply: the filter form otherwise reloads the list on
     every change, which showed "give a start or an end" before a date could be typed. Captured before htmx sees it. */
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (!t || !t.closest || !t.closest("#alert-filters")) { return; }
    if (t.id === "id_range") { sync(); }
    if ((t.id === "id_range" && t.value === "custom") || t.id === "id_start" || t.id === "id_end") {
      e.stopPropagation();
    }
  }, true);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", sync); } else { sync(); }
})();

/* Pricing & settings: a toggled plan reads what Save will write (On/Off), marked "unsaved" until saved. */
(function () {
  "use strict";
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input || !input.closest) { return; }
    var toggle = input.closest(".toggle[data-saved]");
    if (!toggle) { return; }
    var label = toggle.querySelector(".toggle-label");
    var marker = toggle.querySelector(".unsaved");
    if (label) { label.textContent = input.checked ? "On" : "Off"; }
    if (marker) { marker.hidden = (input.checked ? "on" : "off") === toggle.getAttribute("data-saved"); }
  });
})();

/* A table wider than its box scrolls inside it (.table-wrap): such a box takes keyboard focus, so that the arrow
   keys scroll it (WCAG 2.1.1; axe's scrollable-region-focusable). Boxes that fit take no tab stop. */
(function () {
  "use strict";
  function mark(root) {
    var boxes = (root || document).querySelectorAll(".table-wrap");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        if (!box.hasAttribute("aria-label")) {
          var caption = box.querySelector("caption");
          box.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table (scrolls sideways)");
        }
        box.setAttribute("role", "region");
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
      }
    }
  }
  function all() { mark(document); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", all); } else { all(); }
  window.addEventListener("resize", all);
  document.addEventListener("htmx:afterSettle", all);
})();

/* Security alerts: the side pane. A row's title opens the alert beside the list (htmx, ?open=<id> in the URL, so
   reload and back keep it); j/k move it through the list while focus is on the list; Esc or × closes it. Without
   JavaScript the title is a link to the alert's page. The 30-day chart's open/collapsed state is remembered. */
(function () {
  "use strict";
  function workspace() { return document.getElementById("workspace"); }
  function pane() { return document.getElementById("pane"); }

  function urlWith(pk) {
    var url = new URL(window.location.href);
    if (pk) { url.searchParams.set("open", pk); } else { url.searchParams.delete("open"); }
    return url.pathname + url.search;
  }

  function setOpenField(pk) {
    var field = document.getElementById("id_open");
    if (field) { field.value = pk || ""; field.disabled = !pk; }
  }

  function opened(pk) {
    var p = pane(), w = workspace();
    if (!p || !w) { return; }
    p.hidden = false;
    w.classList.add("pane-open");
    setOpenField(pk);
    document.querySelectorAll("[data-row-url]").forEach(function (r) {
      var on = r.getAttribute("data-pk") === String(pk);
      r.classList.toggle("is-current", on);
      if (on) { r.setAttribute("aria-selected", "true"); } else { r.removeAttribute("aria-selected"); }
    });
  }

  function close(fromKey) {
    var p = pane(), w = workspace();
    if (!p || p.hidden) { return false; }
    var inner = p.querySelector("[data-pane-pk]");
    var pk = inner ? inner.getAttribute("data-pane-pk") : "";
    p.hidden = true;
    p.innerHTML = "";
    w.classList.remove("pane-open");
    setOpenField("");
    history.pushState({ htmx: true }, "", urlWith(""));
    var row = pk && document.querySelector('[data-row-url][data-pk="' + pk + '"]');
    var link = row && (row.querySelector("[data-pane-link]") || row.querySelector("a"));
    if (link && fromKey) { link.focus({ preventScroll: true }); }
    return true;
  }
  window.portalPane = { close: close };

  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail && e.detail.target && e.detail.target.id === "pane") {
      var inner = e.detail.target.querySelector("[data-pane-pk]");
      if (inner) { opened(inner.getAttribute("data-pane-pk")); }
    }
  });
  document.addEventListener("click", function (e) {
    var closer = e.target.closest && e.target.closest("[data-pane-close]");
    if (closer) { e.preventDefault(); close(false); }
  });
  document.addEventListener("toggle", function (e) {
    var el = e.target;
    if (!el || el.id !== "trend" || !el.getAttribute("data-remember-url") || !window.portal) { return; }
    var state = el.open ? "1" : "0";
    if (el.getAttribute("data-saved-open") === state) { return; }  /* drawn open: toggle fires, nothing changed */
    el.setAttribute("data-saved-open", state);
    window.portal.post(el.getAttribute("data-remember-url"), { open: el.open ? "on" : "" });
  }, true);
  function init() {
    var inner = document.querySelector("#pane [data-pane-pk]");
    if (inner) { opened(inner.getAttribute("data-pane-pk")); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
