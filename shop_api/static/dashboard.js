// The operations dashboard, live: polls /dashboard/state and re-renders each section in place.
// Builds the DOM with textContent only (nothing from the server is parsed as HTML).
// Every state-changing button is <button data-action="URL" data-done="text" [data-confirm="question"]>
// and is sent by operatorAction() below: a POST with the session's CSRF token, nothing else to
// write for a new action. The session cookie itself is HttpOnly: this script never sees it.
(function () {
  "use strict";
  var body = document.body;
  var STATE_URL = body.getAttribute("data-state-url");
  var SIGN_IN_URL = body.getAttribute("data-sign-in-url");
  var ROOT = body.getAttribute("data-root") || "";
  var REFRESH_MS = parseInt(body.getAttribute("data-refresh-ms"), 10) || 2500;
  var CSRF_TOKEN = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  function el(tag, attrs) {
    var node = document.createElement(tag);
    var key;
    for (key in attrs || {}) {
      if (!Object.prototype.hasOwnProperty.call(attrs, key) || attrs[key] == null) continue;
      if (key === "text") node.textContent = String(attrs[key]);
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child == null) continue;
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  // A button for an operator action: `path` is an admin route below the app's root.
  function actionButton(label, path, doneText, confirmText) {
    return el("button", { type: "button", className: "action", "data-action": ROOT + path,
                          "data-done": doneText, "data-confirm": confirmText, text: label });
  }
  function td(text, className) { return el("td", { text: text == null ? "–" : text, className: className }); }
  function chip(text, className) { return el("span", { text: text, className: "chip " + className }); }
  function time(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }
  function age(seconds) {
    if (seconds == null) return "–";
    if (seconds < 60) return seconds + "s";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
    return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m";
  }
  function learnedText(l) {
    if (l.demand_mean === undefined) return "learned rule, not learned yet" + (l.note ? ": " + l.note : "");
    return "learned: demand " + l.demand_mean + " ± " + l.demand_std + "/day (" + l.demand_days + " days) · lead time " +
      l.lead_time_mean_days + " ± " + l.lead_time_std_days + " days (" + l.lead_time_samples + " orders) · safety stock " +
      l.safety_stock + " at " + Math.round(l.service_level * 1000) / 10 + " %";
  }
  function pct(part, whole) { return Math.min(100, (part * 100) / (whole || 1)).toFixed(1) + "%"; }
  function fill(id, rows, emptyText, columns) {
    var tbody = document.getElementById(id);
    var fragment = document.createDocumentFragment();
    if (!rows.length) fragment.appendChild(el("tr", { className: "empty" }, el("td", { colspan: columns, text: emptyText })));
    rows.forEach(function (row) { fragment.appendChild(row); });
    tbody.replaceChildren(fragment);
  }

  function renderSummary(s) {
    var classes = { out_of_stock: s.out_of_stock ? "bad" : "", ads_paused: s.ads_paused ? "warn" : "",
                    backorders_waiting: s.backorders_waiting ? "warn" : "",
                    dead_letters: s.dead_letters ? "bad" : "", outbox_pending: s.outbox_pending ? "warn" : "",
                    outbox_parked: s.outbox_parked ? "bad" : "",
                    orders_failed: s.orders_failed ? "bad" : "", orders_stalled: s.orders_stalled ? "bad" : "",
                    delivery_anomalies: s.delivery_anomalies ? "bad" : "" };
    document.querySelectorAll("#summary [data-k]").forEach(function (b) {
      var key = b.getAttribute("data-k");
      b.textContent = s[key];
      b.parentNode.className = "card " + (classes[key] || "");
    });
  }

  function renderItems(items) {
    var list = document.getElementById("items");
    var fragment = document.createDocumentFragment();
    items.forEach(function (i) {
      var bar = el("div", { className: "bar", role: "img",
        "aria-label": i.quantity + " of target " + i.target_level + ", reorder point " + i.reorder_point });
      var filled = el("span", { className: "fill" });
      var mark = el("span", { className: "mark" });
      filled.style.width = pct(i.quantity, i.target_level);
      mark.style.left = pct(i.reorder_point, i.target_level);
      bar.append(filled, mark);
      var nums = el("div", { className: "nums" }, el("span", { className: "qty", text: i.quantity }),
        " in stock · reorder below " + i.reorder_point + " · target " + i.target_level + " · ",
        el("span", { className: "max-order", text: "orders at most " + i.max_order_quantity }));
      if (i.on_order) nums.append(" · ", el("em", { text: i.on_order + " on order" }));
      if (i.backorders_waiting) {
        nums.append(" · ", el("em", { className: "backorders", "data-backorders": i.backorders_waiting,
          text: i.backorders_waiting + " backordered (" + i.backordered + " units), oldest waiting " +
                age(i.backorder_oldest_age_seconds) }));
      }
      var head = el("div", { className: "item-head" }, el("span", { className: "name", text: i.name }),
        el("span", { className: "factory", text: i.factory_name }));
      if (i.ad_status) {
        var adChip = chip("ad " + i.ad_status, "ad-" + i.ad_status);
        adChip.setAttribute("data-ad-status", i.ad_status);
        head.append(adChip);
      }
      var learned = i.learned ? el("div", { className: "nums learned", "data-learned": i.item_id,
                                            text: learnedText(i.learned) }) : null;
      fragment.appendChild(el("li", { className: "item level-" + i.level, "data-item": i.name,
                                      "data-quantity": i.quantity }, head, bar, nums, learned));
    });
    list.replaceChildren(fragment);
  }

  function render(state) {
    renderSummary(state.summary);
    renderItems(state.items);
    fill("orders", state.replenishments.map(function (o) {
      var status = el("td", null, chip(o.status, "st-" + o.status));
      if (o.request_count > 1) status.append(" ", chip("request " + o.request_count, "st-retry"));
      if (o.stalled) status.append(" ", chip("stalled", "st-stalled"));
      var cancel = actionButton("Cancel", "/admin/replenishment-orders/" + encodeURIComponent(o.replenishment_order_id) + "/cancel",
        "Replenishment order " + o.replenishment_order_id + " was cancelled; the factory is asked to stop.",
        "Cancel replenishment order " + o.replenishment_order_id + " (" + o.quantity + " x " + o.item_name + ")?");
      return el("tr", { "data-order": o.replenishment_order_id }, td(o.replenishment_order_id), td(o.item_name),
        td(o.quantity, "num"), status, td(o.factory_reference, "mono opt"), td(age(o.age_seconds), "num"),
        td(time(o.deadline), "opt"), el("td", null, cancel));
    }), "No open orders.", 8);
    fill("anomalies", state.anomalies.map(function (a) {
      return el("tr", { "data-anomaly": a.anomaly_id, "data-kind": a.kind }, td(time(a.created_at)),
        el("td", null, chip(a.kind, "st-anomaly")), td(a.detail, "reason"));
    }), "No anomalies.", 3);
    fill("ads", state.ads_paused.map(function (a) {
      return el("tr", { "data-item": a.item_name }, td(a.item_name), td(age(a.paused_seconds) + " ago"),
        td(a.manager_email, "opt"));
    }), "Every ad is running.", 3);
    fill("emails", state.emails.map(function (m) {
      return el("tr", { "data-status": m.status }, td(time(m.sent_at || m.created_at)), td(m.recipient, "opt"),
        td(m.subject), el("td", null, chip(m.status, "em-" + m.status)));
    }), "No e-mails yet.", 4);
    fill("dead", state.dead_letters.map(function (d) {
      var action = d.status === "dead"
        ? actionButton("Redrive", "/admin/dead-letters/" + encodeURIComponent(d.dead_letter_id) + "/redrive",
                       "Dead letter " + d.dead_letter_id + " was sent back to its queue.")
        : chip("redriven", "st-redriven");
      return el("tr", { "data-dead-letter": d.dead_letter_id }, td(d.dead_letter_id), td(d.source_queue, "queue"),
        td(d.event_type, "opt"), td(d.failure_reason, "reason"), td(d.receive_count, "num opt"), el("td", null, action));
    }), "No dead letters.", 6);
    fill("parked", state.parked_events.map(function (p) {
      return el("tr", { "data-outbox": p.outbox_id }, td(p.outbox_id), td(p.event_type), td(p.destination, "opt"),
        td(p.last_error, "reason"), td(p.attempts, "num opt"),
        el("td", null, actionButton("Re-publish", "/admin/outbox/" + encodeURIComponent(p.outbox_id) + "/republish",
                                    "Event " + p.outbox_id + " was re-published.")));
    }), "No parked events.", 6);
    fill("ledger", state.ledger.map(function (e) {
      return el("tr", null, td(time(e.created_at)), td(e.item_name),
        td((e.delta > 0 ? "+" : "") + e.delta, "num " + (e.delta < 0 ? "neg" : "pos")),
        td(e.quantity_after, "num"), td(e.reason), td(e.reference, "mono opt"));
    }), "No stock movements.", 6);
  }

  var live = document.getElementById("live");
  var liveText = document.getElementById("live-text");
  var timer = null;

  function refresh() {
    clearTimeout(timer);
    return fetch(STATE_URL, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) signedOut();
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (state) {
        render(state);
        live.classList.remove("stale");
        liveText.textContent = "live · updated " + time(state.generated_at);
      })
      .catch(function (error) {
        live.classList.add("stale");
        liveText.textContent = "offline (" + error.message + "), retrying…";
      })
      .then(function () { timer = setTimeout(refresh, document.hidden ? REFRESH_MS * 4 : REFRESH_MS); });
  }

  function signedOut() { window.location.assign(SIGN_IN_URL); }

  // The one helper every operator button goes through (redrive, re-publish; cancel...).
  var note = document.getElementById("action-note");
  function operatorAction(button) {
    var url = button.getAttribute("data-action");
    var question = button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    button.disabled = true;
    note.textContent = button.textContent + "…";
    fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "X-CSRF-Token": CSRF_TOKEN, Accept: "application/json" }
    }).then(function (response) {
      if (response.status === 401) return signedOut();
      if (response.ok) {
        note.textContent = button.getAttribute("data-done") || "Done.";
        return;
      }
      return response.json().catch(function () { return {}; }).then(function (answer) {
        note.textContent = button.textContent + " failed: " + (answer.message || "HTTP " + response.status);
      });
    }).catch(function (error) {
      note.textContent = button.textContent + " failed: " + error.message;
    }).then(function () { button.disabled = false; refresh(); });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (button) operatorAction(button);
  });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  refresh();
})();
