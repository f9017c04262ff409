/* The live operations page of opsmessaging. Hand-written, no dependencies.
 *
 * It loads a snapshot (feed, metrics, alerts) from the page's JSON views, then follows
 * the WebSocket: one subscription per category the user may see, each from the last
 * sequence the page has of it. Sequences number each category without gaps, so after a
 * dropped connection it subscribes again from the last sequence it received and the
 * server replays exactly what it missed. `window.opsmessagingPage.stats` counts what
 * arrived twice (`duplicates`) or skipped a sequence (`gaps`); both stay 0.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("opsmessaging-config").textContent);
  const FEED_ROWS = 200; // rows in the table
  const STORE_SIZE = 2000; // messages kept to filter the feed again without a request
  const CHART_POINTS = 60; // points per node and chart
  const RUN_SPAN_MS = 2000; // throughput metrics this close belong to one metrics run
  const BACKOFF_MS = [250, 500, 1000, 2000, 3000];
  const PING_AFTER_MS = 15000; // silence before a ping, and twice that before giving up
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SEVERITY_RANK = new Map(config.severities.map((label, index) => [label, index]));
  const CHARTS = [
    { id: "rate", title: "Message rate", unit: "msg/s" },
    { id: "latency", title: "Delivery p95", unit: "ms" },
    { id: "cpu", title: "CPU", unit: "%", max: 100 },
    { id: "memory", title: "Memory", unit: "%", max: 100 },
  ];
  const CLUSTER_TYPES = new Set(["ClusterHealth", "ClusterMembership", "NodeHealth"]);

  const page = {
    reached: {}, // category -> last sequence received (snapshot, then WebSocket)
    stats: { received: 0, duplicates: 0, gaps: 0, reconnects: 0 },
    connection: "connecting",
  };
  window.opsmessagingPage = page;

  const $ = (id) => document.getElementById(id);

  /* Add `key` to `seen`, forgetting the oldest keys past `limit`; false if known. */
  function firstTime(seen, key, limit) {
    if (seen.has(key)) return false;
    seen.add(key);
    if (seen.size > limit) {
      const oldest = seen.values();
      for (let count = seen.size - limit; count > 0; count--) seen.delete(oldest.next().value);
    }
    return true;
  }
  const keyOf = (message) => message.category + ":" + message.sequence;

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const clock = (timestamp) => (timestamp ? timestamp.slice(11, 23) : "");

  function notice(text) {
    const box = $("ops-notice");
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.json();
  }

  function format(value) {
    if (typeof value === "string") return value;
    if (typeof value === "number") return String(Math.round(value * 1000) / 1000);
    return JSON.stringify(value);
  }

  /* One line: the headline (title or message) first, then the other payload fields in
     the type's declared order, as `opsmessaging_tail` prints them. */
  function summary(message) {
    const payload = message.payload;
    if (!payload) return "(payload unreadable)";
    const headline = ["title", "message"].find((name) => typeof payload[name] === "string");
    const order = config.fieldOrder[message.payload_type] || [];
    const names = [...new Set([...order, ...Object.keys(payload)])];
    const parts = headline ? [payload[headline]] : [];
    for (const name of names) {
      const value = payload[name];
      if (name === headline || name === "timestamp" || name === "node") continue;
      if (value === null || value === undefined) continue;
      if (typeof value === "object" && Object.keys(value).length === 0) continue;
      parts.push(name + "=" + format(value));
    }
    return parts.join("  ").slice(0, 300);
  }

  /* ---- the feed ------------------------------------------------------------------ */

  const store = new Map(); // key -> message
  let filters = { ...config.filters };
  let feedRequest = 0;

  function matches(message) {
    if (filters.category && message.category !== filters.category) return false;
    if (filters.node && ![message.node, message.source_node, message.originating_node].includes(filters.node)) {
      return false;
    }
    if (filters.min_severity) {
      if (!message.severity) return false;
      return SEVERITY_RANK.get(message.severity) >= SEVERITY_RANK.get(filters.min_severity);
    }
    return true;
  }

  function remember(message) {
    store.set(keyOf(message), message);
    if (store.size > STORE_SIZE * 1.1) {
      const oldest = [...store.values()].sort((a, b) => a.id - b.id).slice(0, store.size - STORE_SIZE);
      for (const message of oldest) store.delete(keyOf(message));
    }
  }

  function row(message) {
    const severity = message.severity || "";
    return el(
      "tr",
      {
        className: "ops-row",
        dataset: {
          key: keyOf(message),
          id: message.id,
          category: message.category,
          sequence: message.sequence,
          messageId: message.message_id,
          arrivedAt: Date.now(),
        },
        title: message.payload_type + " · " + message.timestamp,
        onclick: () => toggleDetail(message),
      },
      el("td", { className: "ops-time" }, clock(message.timestamp)),
      el("td", {}, message.category),
      el("td", {}, message.topic),
      el("td", {}, message.node),
      el("td", {}, el("span", { className: severity ? "sev-" + severity : "" }, severity)),
      el("td", { className: "ops-summary" }, summary(message)),
    );
  }

  function toggleDetail(message) {
    const tbody = $("ops-feed").tBodies[0];
    const tr = tbody.querySelector('tr.ops-row[data-key="' + keyOf(message) + '"]');
    const next = tr && tr.nextElementSibling;
    if (next && next.classList.contains("ops-detail")) {
      next.remove();
      return;
    }
    const admin = config.urls.adminMessage
      ? el("a", { href: config.urls.adminMessage.replace("/0/", "/" + message.id + "/") }, "Open in the admin")
      : null;
    tr.after(
      el(
        "tr",
        { className: "ops-detail", dataset: { key: keyOf(message) } },
        el("td", { colspan: 6 }, el("pre", {}, JSON.stringify(message, null, 2)), admin),
      ),
    );
  }

  function trimFeed(tbody) {
    const rows = tbody.querySelectorAll("tr.ops-row");
    for (let index = FEED_ROWS; index < rows.length; index++) {
      const detail = rows[index].nextElementSibling;
      if (detail && detail.classList.contains("ops-detail")) detail.remove();
      rows[index].remove();
    }
  }

  function showInFeed(message, fresh) {
    if (!matches(message)) return;
    const tbody = $("ops-feed").tBodies[0];
    const tr = row(message);
    if (fresh) tr.classList.add("ops-fresh");
    let before = null;
    for (const other of tbody.querySelectorAll("tr.ops-row")) {
      if (Number(other.dataset.id) < message.id) {
        before = other;
        break;
      }
    }
    tbody.insertBefore(tr, before);
    trimFeed(tbody);
    $("ops-feed-empty").hidden = true;
  }

  function renderFeed() {
    const tbody = $("ops-feed").tBodies[0];
    const shown = [...store.values()].filter(matches).sort((a, b) => b.id - a.id).slice(0, FEED_ROWS);
    tbody.replaceChildren(...shown.map(row));
    $("ops-feed-empty").hidden = shown.length > 0;
    $("ops-feed-empty").textContent = "No message matches.";
  }

  function feedUrl() {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
    const text = query.toString();
    return { api: config.urls.feed + (text ? "?" + text : ""), page: location.pathname + (text ? "?" + text : "") };
  }

  async function loadFeed() {
    const request = ++feedRequest;
    const urls = feedUrl();
    const data = await getJSON(urls.api);
    if (request !== feedRequest) return null; // the filters changed meanwhile
    for (const message of data.messages) remember(message);
    renderFeed();
    return data;
  }

  function bindFilters() {
    const form = $("ops-filters");
    let timer = null;
    const apply = () => {
      filters = {
        category: form.elements.category.value,
        node: form.elements.node.value.trim(),
        min_severity: form.elements.min_severity.value,
      };
      history.replaceState(null, "", feedUrl().page);
      renderFeed();
      loadFeed().catch((error) => notice("Could not load the feed: " + error.message));
    };
    form.addEventListener("change", apply);
    form.addEventListener("input", (event) => {
      if (event.target.name !== "node") return;
      clearTimeout(timer);
      timer = setTimeout(apply, 300);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      apply();
    });
  }

  /* ---- metrics charts ------------------------------------------------------------ */

  const series = new Map(CHARTS.map((chart) => [chart.id, new Map()])); // chart -> node -> points
  const charted = new Set(); // keys of the metric messages already counted
  const colours = new Map();
  let drawTimer = null;

  function colourOf(node) {
    if (!colours.has(node)) colours.set(node, PALETTE[colours.size % PALETTE.length]);
    return colours.get(node);
  }

  function pointsOf(chart, node) {
    const nodes = series.get(chart);
    if (!nodes.has(node)) nodes.set(node, []);
    colourOf(node);
    return nodes.get(node);
  }

  function addPoint(points, point) {
    let index = points.length;
    while (index > 0 && points[index - 1].t > point.t) index--;
    points.splice(index, 0, point);
    if (points.length > CHART_POINTS) points.splice(0, points.length - CHART_POINTS);
  }

  function chartMetric(message) {
    const payload = message.payload;
    if (!payload || !firstTime(charted, keyOf(message), 5000)) return;
    const node = payload.node || message.node;
    const t = Date.parse(payload.timestamp || message.timestamp);
    if (message.payload_type === "ThroughputMetric") {
      if (!String(payload.operation).startsWith("messages_stored.")) return;
      // One metrics run sends a rate per category; the chart shows their sum.
      const points = pointsOf("rate", node);
      const run = points.find((p) => Math.abs(p.t - t) < RUN_SPAN_MS && !p.parts.has(payload.operation));
      if (run) {
        run.v += payload.rate_per_sec;
        run.parts.add(payload.operation);
      } else {
        addPoint(points, { t, v: payload.rate_per_sec, parts: new Set([payload.operation]) });
      }
    } else if (message.payload_type === "LatencyMetric") {
      if (payload.operation !== "broadcast_delivery" || payload.percentile !== "p95") return;
      addPoint(pointsOf("latency", node), { t, v: payload.latency_ms });
    } else if (message.payload_type === "ResourceUsage") {
      if (!series.has(payload.resource_type)) return;
      addPoint(pointsOf(payload.resource_type, node), { t, v: payload.usage_percent });
    } else {
      return;
    }
    clearTimeout(drawTimer);
    drawTimer = setTimeout(drawCharts, 100);
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function drawChart(chart) {
    const width = 300, height = 110, left = 34, right = 6, top = 6, bottom = 16;
    const nodes = [...series.get(chart.id).entries()].filter(([, points]) => points.length);
    const all = nodes.flatMap(([, points]) => points);
    const figure = el("figure", { className: "ops-chart", dataset: { chart: chart.id, points: all.length } });
    const latest = nodes
      .map(([node, points]) => format(points[points.length - 1].v) + (chart.unit === "%" ? "%" : " " + chart.unit))
      .join(" · ");
    figure.append(
      el("figcaption", {}, el("span", {}, chart.title), el("span", { className: "ops-chart-latest" }, latest)),
    );
    const image = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": chart.title });
    image.append(svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "ops-axis" }));
    image.append(svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "ops-axis" }));
    if (!all.length) {
      image.append(svg("text", { x: left + 8, y: height / 2, class: "ops-label" }, "waiting for metrics…"));
      figure.append(image);
      return figure;
    }
    const max = chart.max || niceMax(Math.max(...all.map((p) => p.v)) * 1.1);
    let t0 = Math.min(...all.map((p) => p.t));
    let t1 = Math.max(...all.map((p) => p.t));
    if (t1 - t0 < 1000) {
      t0 -= 30000;
      t1 += 30000;
    }
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
    const y = (v) => height - bottom - (Math.min(v, max) / max) * (height - top - bottom);
    image.append(svg("text", { x: left - 3, y: top + 8, "text-anchor": "end", class: "ops-label" }, format(max)));
    image.append(svg("text", { x: left - 3, y: height - bottom, "text-anchor": "end", class: "ops-label" }, "0"));
    const when = (t) => new Date(t).toISOString().slice(11, 19);
    image.append(svg("text", { x: left, y: height - 3, class: "ops-label" }, when(t0)));
    image.append(svg("text", { x: width - right, y: height - 3, "text-anchor": "end", class: "ops-label" }, when(t1)));
    for (const [node, points] of nodes) {
      const colour = colourOf(node);
      const line = svg("polyline", {
        points: points.map((p) => x(p.t).toFixed(1) + "," + y(p.v).toFixed(1)).join(" "),
        stroke: colour,
        "data-node": node,
      });
      line.append(svg("title", {}, node));
      image.append(line);
      const last = points[points.length - 1];
      image.append(svg("circle", { cx: x(last.t).toFixed(1), cy: y(last.v).toFixed(1), r: 2.5, fill: colour }));
    }
    figure.append(image);
    return figure;
  }

  function drawCharts() {
    $("ops-charts").replaceChildren(...CHARTS.map(drawChart));
    $("ops-legend").replaceChildren(
      ...[...colours.entries()].map(([node, colour]) =>
        el("li", {}, el("span", { className: "ops-swatch", style: "background:" + colour }), node),
      ),
    );
  }

  /* ---- alerts -------------------------------------------------------------------- */

  const openAlerts = new Map(); // alert_id -> its SystemAlert message
  const acknowledged = []; // {alert, ack}, newest acknowledgement first
  const ackKeys = new Set();
  const acknowledgedIds = new Set();

  function csrfToken() {
    const input = $("ops-csrf").querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function acknowledge(alertId, note, item) {
    const body = new URLSearchParams({ alert_id: alertId, ack_note: note });
    const response = await fetch(config.urls.acknowledge, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body,
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      take(data.ack);
      return;
    }
    const reasons = Object.values(data).flat().join(" ");
    item.querySelector(".ops-alert-error").textContent = reasons || "Not acknowledged (" + response.status + ").";
  }

  function alertItem(alert) {
    const payload = alert.payload;
    const item = el(
      "li",
      { className: "ops-alert", dataset: { alertId: payload.alert_id, severity: payload.severity, id: alert.id } },
      el("span", { className: "sev-" + payload.severity }, payload.severity),
      " ",
      el("span", { className: "ops-alert-title" }, payload.title),
      el(
        "span",
        { className: "ops-alert-meta" },
        [alert.topic, alert.node, clock(alert.timestamp)].join(" · "),
      ),
      el("span", { className: "ops-alert-error", role: "alert" }),
    );
    if (config.canAcknowledge) {
      const note = el("input", { name: "ack_note", placeholder: "note (optional)", maxlength: 1000 });
      const form = el(
        "form",
        {
          hidden: true,
          onsubmit: (event) => {
            event.preventDefault();
            form.querySelector("button[type=submit]").disabled = true;
            acknowledge(payload.alert_id, note.value, item)
              .catch((error) => (item.querySelector(".ops-alert-error").textContent = error.message))
              .finally(() => (form.querySelector("button[type=submit]").disabled = false));
          },
        },
        note,
        el("button", { type: "submit" }, "Confirm"),
      );
      const open = el("button", { type: "button", className: "ops-ack" }, "Acknowledge");
      open.addEventListener("click", () => {
        form.hidden = false;
        open.hidden = true;
        note.focus();
      });
      item.append(open, form);
    }
    return item;
  }

  function drawOpenCount() {
    const count = $("ops-open-count");
    count.textContent = String(openAlerts.size);
    count.dataset.count = String(openAlerts.size);
    $("ops-open-empty").hidden = openAlerts.size > 0;
  }

  function openAlert(alert) {
    const payload = alert.payload;
    if (!payload || payload.requires_ack !== true) return;
    if (openAlerts.has(payload.alert_id) || acknowledgedIds.has(payload.alert_id)) return;
    openAlerts.set(payload.alert_id, alert);
    const list = $("ops-open-alerts");
    const before = [...list.children].find((item) => Number(item.dataset.id) < alert.id) || null;
    list.insertBefore(alertItem(alert), before);
    drawOpenCount();
  }

  function closeAlert(alert, ack) {
    if (!ack.payload || !firstTime(ackKeys, keyOf(ack), 1000)) return;
    const alertId = ack.payload.alert_id;
    firstTime(acknowledgedIds, alertId, 5000);
    const known = alert || openAlerts.get(alertId) || null;
    openAlerts.delete(alertId);
    const item = $("ops-open-alerts").querySelector('[data-alert-id="' + CSS.escape(alertId) + '"]');
    if (item) item.remove();
    acknowledged.unshift({ alert: known, ack });
    acknowledged.sort((a, b) => b.ack.id - a.ack.id);
    acknowledged.splice(20);
    drawOpenCount();
    drawAcknowledged();
  }

  function drawAcknowledged() {
    $("ops-acknowledged-alerts").replaceChildren(
      ...acknowledged.map(({ alert, ack }) => {
        const payload = ack.payload;
        const title = alert && alert.payload ? alert.payload.title : "alert " + payload.alert_id;
        const note = payload.ack_note ? ": " + payload.ack_note : "";
        return el(
          "li",
          { className: "ops-alert", dataset: { alertId: payload.alert_id } },
          el("span", { className: "ops-alert-title" }, title),
          el(
            "span",
            { className: "ops-alert-meta" },
            "acknowledged by " + payload.ack_by + " at " + clock(payload.ack_timestamp) + note,
          ),
        );
      }),
    );
  }

  /* ---- the cluster strip ----------------------------------------------------------- */

  let clockOffset = 0; // server clock minus ours
  let nodesTimer = null;

  function age(timestamp) {
    if (!timestamp) return "never";
    const seconds = Math.max(0, Math.round((Date.now() + clockOffset - Date.parse(timestamp)) / 1000));
    if (seconds < 90) return seconds + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  function nodeCard(node) {
    const failure = node.failure
      ? el(
          "span",
          { className: "ops-node-failure" },
          "reported failed by " + node.failure.reported_by + " at " + clock(node.failure.reported_at),
        )
      : null;
    return el(
      "li",
      { className: "ops-node", dataset: { node: node.name, status: node.status } },
      el("span", { className: "ops-node-name" }, node.name),
      el("span", { className: "ops-node-status" }, node.status),
      " ",
      el("span", {}, node.role || ""),
      el(
        "span",
        { className: "ops-node-meta", title: node.last_heartbeat_at || "", dataset: { heartbeat: node.last_heartbeat_at || "" } },
        "last heartbeat " + age(node.last_heartbeat_at),
      ),
      failure,
    );
  }

  async function refreshNodes() {
    const data = await getJSON(config.urls.nodes);
    clockOffset = Date.parse(data.now) - Date.now();
    const list = $("ops-nodes");
    list.replaceChildren(...data.nodes.map(nodeCard));
    if (!data.nodes.length) list.append(el("li", { className: "ops-empty" }, "No node has registered yet."));
    $("ops-node-names").replaceChildren(...data.nodes.map((node) => el("option", { value: node.name })));
  }

  function refreshNodesSoon() {
    clearTimeout(nodesTimer);
    nodesTimer = setTimeout(() => refreshNodes().catch(() => {}), 300);
  }

  function tickHeartbeats() {
    for (const meta of document.querySelectorAll(".ops-node-meta[data-heartbeat]")) {
      meta.textContent = "last heartbeat " + age(meta.dataset.heartbeat || null);
    }
  }

  async function refreshCompatibility() {
    const badge = $("ops-compatibility");
    try {
      const data = await getJSON(config.urls.compatibility);
      badge.dataset.state = data.compatible ? "ok" : "bad";
      badge.textContent = data.compatible ? "compatible" : "not compatible";
      badge.title = data.problems.length ? data.problems.join("\n") : "The compatibility report";
    } catch (error) {
      badge.dataset.state = "unknown";
      badge.textContent = "compatibility: unknown";
      badge.title = error.message;
    }
  }

  /* ---- every message, from the snapshot or the WebSocket ---------------------------- */

  function take(message) {
    if (!message) return;
    if (!store.has(keyOf(message))) {
      remember(message);
      showInFeed(message, true);
    }
    if (message.category === "metrics") chartMetric(message);
    if (message.payload_type === "SystemAlert") openAlert(message);
    if (message.payload_type === "AlertAck") closeAlert(null, message);
    if (CLUSTER_TYPES.has(message.payload_type) || message.topic === "node_failure") refreshNodesSoon();
  }

  /* ---- the WebSocket -------------------------------------------------------------- */

  let socket = null;
  let attempt = 0;
  let connectedOnce = false;
  let lastFrameAt = 0;
  const subscribed = new Set();

  function setConnection(state) {
    page.connection = state;
    const pill = $("ops-connection");
    pill.dataset.state = state;
    pill.textContent = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" }[state];
  }

  function subscribe(ws, category) {
    const frame = { action: "subscribe", category };
    if (page.reached[category] !== undefined) frame.since = page.reached[category];
    ws.send(JSON.stringify(frame));
  }

  function receive(message) {
    const category = message.category;
    const reached = page.reached[category];
    page.stats.received++;
    if (reached !== undefined) {
      if (message.sequence <= reached) {
        page.stats.duplicates++;
        return;
      }
      if (message.sequence > reached + 1) page.stats.gaps++;
    }
    page.reached[category] = message.sequence;
    take(message);
  }

  function onFrame(ws, frame) {
    lastFrameAt = Date.now();
    if (frame.type === "message") {
      receive(frame.message);
    } else if (frame.type === "subscribed") {
      if (page.reached[frame.category] === undefined) page.reached[frame.category] = frame.last_sequence;
      if (frame.pruned) {
        // Older messages were pruned: the history starts later, which is no gap.
        const first = frame.pruned.first_available_sequence - 1;
        page.reached[frame.category] = Math.max(page.reached[frame.category], first);
      }
      subscribed.add(frame.category);
      if (subscribed.size === config.categories.length) {
        connectedOnce = true;
        attempt = 0;
        setConnection("live");
        notice("");
      }
    } else if (frame.type === "behind") {
      subscribe(ws, frame.category); // from the last sequence received
    } else if (frame.type === "error") {
      notice("The server refused a request: " + frame.detail);
    }
  }

  function connect() {
    setConnection(connectedOnce ? "reconnecting" : "connecting");
    subscribed.clear();
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + config.websocket);
    socket = ws;
    ws.addEventListener("open", () => {
      lastFrameAt = Date.now();
      for (const category of config.categories) subscribe(ws, category.value);
    });
    ws.addEventListener("message", (event) => onFrame(ws, JSON.parse(event.data)));
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      if (connectedOnce) page.stats.reconnects++;
      setConnection(connectedOnce ? "reconnecting" : "connecting");
      const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
      attempt++;
      setTimeout(() => {
        connect();
        refreshCompatibility();
        refreshNodes().catch(() => {});
      }, delay);
    });
  }

  function watchConnection() {
    // A connection can die without a close (a server that vanished): ping, then give up.
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const silent = Date.now() - lastFrameAt;
    if (silent > 2 * PING_AFTER_MS) socket.close();
    else if (silent > PING_AFTER_MS) socket.send(JSON.stringify({ action: "ping" }));
  }

  async function start() {
    bindFilters();
    drawCharts();
    drawOpenCount();
    refreshNodes().catch((error) => notice("Could not load the nodes: " + error.message));
    refreshCompatibility();
    setInterval(() => refreshNodes().catch(() => {}), config.nodesRefreshMs);
    setInterval(tickHeartbeats, 1000);
    setInterval(refreshCompatibility, 60000);
    setInterval(watchConnection, 5000);
    try {
      // The feed's sequences are read before anything else: the rest is at least as new.
      const feed = await loadFeed();
      if (feed) Object.assign(page.reached, feed.last_sequences);
      const [metrics, board] = await Promise.all([getJSON(config.urls.metrics), getJSON(config.urls.alerts)]);
      for (const message of metrics.messages) chartMetric(message);
      for (const { alert, ack } of board.acknowledged) closeAlert(alert, ack);
      for (const alert of board.open) openAlert(alert);
    } catch (error) {
      notice("Could not load the snapshot: " + error.message);
    }
    connect();
  }

  start();
})();
