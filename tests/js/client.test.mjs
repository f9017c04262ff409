// client.js under Node's test runner: scripted sockets for holes, duplicates, epochs and
// close codes; a live server (started by tests/client/test_js.py, which sets the
// OPSMESSAGING_* variables) for replay, live delivery and dropped connections.
import assert from "node:assert/strict";
import { test } from "node:test";

import { EpochChanged, NotAuthenticated, subscribe, websocketUrl } from "../../opsmessaging/static/opsmessaging/client.js";

const wire = (sequence) => ({ id: sequence, message_id: `m${sequence}`, category: "alerts", topic: "t", sequence, payload: {} });
const message = (sequence) => ({ type: "message", subscription: { category: "alerts", topic: null }, message: wire(sequence) });
const subscribed = (last, extra = {}) => ({ type: "subscribed", category: "alerts", topic: null, last_sequence: last, ...extra });
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A WebSocket class whose sockets the test drives; `sockets` are the ones made. */
function scripted() {
  const sockets = [];
  class ScriptedSocket {
    constructor(url, init) {
      Object.assign(this, { url, init, sent: [], readyState: 0 });
      sockets.push(this);
      queueMicrotask(() => {
        this.readyState = 1;
        this.onopen();
      });
    }
    send(text) { this.sent.push(JSON.parse(text)); }
    close() { this.readyState = 3; }
    frame(frame) { this.onmessage({ data: JSON.stringify(frame) }); }
    drop(code = 1006) { this.readyState = 3; this.onclose({ code }); }
  }
  return { sockets, ScriptedSocket };
}

function start(options) {
  const { sockets, ScriptedSocket } = scripted();
  const got = [];
  const errors = [];
  const subscription = subscribe({
    url: "ws://h/ws/opsmessaging/", category: "alerts", token: "k", reconnectDelay: 1, pingAfter: 0,
    WebSocket: ScriptedSocket, onMessage: (m) => got.push(m.sequence), onError: (e) => errors.push(e), ...options,
  });
  return { sockets, got, errors, subscription };
}

test("the subscribe frame carries since and filters, and the token its header", async () => {
  const { sockets } = start({ since: 5, filters: { severity: "warning" } });
  await tick();
  assert.deepEqual(sockets[0].init, { headers: { Authorization: "Token k" } });
  assert.deepEqual(sockets[0].sent, [{ action: "subscribe", category: "alerts", since: 5, filters: { severity: "warning" } }]);
});

test("duplicates are dropped and a hole resubscribes from the last sequence", async () => {
  const { sockets, got, subscription } = start({});
  await tick();
  const ws = sockets[0];
  ws.frame(subscribed(0));
  for (const s of [1, 2, 2, 1, 4, 5]) ws.frame(message(s));
  ws.frame(message(6)); // before the answer: dropped
  ws.frame(subscribed(6));
  for (const s of [3, 4, 5, 6]) ws.frame(message(s));
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(ws.sent.map((f) => f.since), [0, 2]);
  assert.equal(subscription.resubscriptions, 1);
});

test("behind, resume and a dropped connection continue from the last sequence", async () => {
  const { sockets, got, subscription } = start({});
  await tick();
  sockets[0].frame(subscribed(0));
  sockets[0].frame(message(1));
  sockets[0].frame({ type: "behind", category: "alerts", topic: null, last_sequence: 1 });
  sockets[0].frame(subscribed(2));
  sockets[0].frame(message(2));
  sockets[0].drop(4503);
  await tick();
  sockets[1].frame(subscribed(3));
  sockets[1].frame(message(3));
  assert.deepEqual(got, [1, 2, 3]);
  assert.deepEqual([...sockets[0].sent, ...sockets[1].sent].map((f) => f.since), [0, 1, 2]);
  assert.equal(subscription.reconnects, 1);
  subscription.close();
  assert.equal(subscription.state, "closed");
});

for (const answer of ["error", "subscribed"]) {
  const changed = (ws) => (answer === "error" ? ws.frame({ type: "error", code: "epoch_changed", detail: "reset" }) : ws.frame(subscribed(1, { epoch: "e2" })));

  test(`an epoch change (${answer}) without onReset stops with EpochChanged`, async () => {
    const { sockets, got, errors, subscription } = start({});
    await tick();
    sockets[0].frame(subscribed(2, { epoch: "e1" }));
    sockets[0].frame(message(1));
    sockets[0].drop();
    await tick();
    assert.deepEqual(sockets[1].sent[0], { action: "subscribe", category: "alerts", since: 1, epoch: "e1" });
    changed(sockets[1]);
    sockets[1].frame(message(2)); // of the new epoch at the old position: never handed out
    assert.deepEqual(got, [1]);
    assert.ok(errors[0] instanceof EpochChanged);
    assert.equal(errors[0].reset.lastSequence, 1);
    assert.equal(subscription.state, "closed");
  });

  test(`an epoch change (${answer}) calls onReset and continues where it says`, async () => {
    const resets = [];
    const { sockets, got } = start({ onReset: (reset) => (resets.push(reset), 0) });
    await tick();
    sockets[0].frame(subscribed(2, { epoch: "e1" }));
    sockets[0].frame(message(1));
    sockets[0].frame(message(2));
    changed(sockets[0]); // as if the answer to a resubscription
    sockets[0].frame(message(3));
    await tick();
    assert.equal(sockets[0].sent.at(-1).since, 0);
    sockets[0].frame(subscribed(1, { epoch: "e2" }));
    sockets[0].frame(message(1));
    assert.deepEqual(got, [1, 2, 1]);
    assert.equal(resets.length, 1);
    assert.equal(resets[0].previousEpoch, "e1");
  });
}

test("a subscribed frame without epoch is unknown, not a change", async () => {
  const { sockets, got, subscription } = start({ since: 4, epoch: "e1" });
  await tick();
  sockets[0].frame(subscribed(9));
  sockets[0].frame(message(5));
  assert.deepEqual(got, [5]);
  assert.equal(subscription.epoch, "e1");
  assert.equal(sockets[0].sent[0].epoch, "e1");
});

test("close 4401 stops with NotAuthenticated", async () => {
  const { sockets, errors } = start({});
  await tick();
  sockets[0].drop(4401);
  await tick();
  assert.equal(sockets.length, 1);
  assert.ok(errors[0] instanceof NotAuthenticated);
});

test("a site URL gets the endpoint's path", () => {
  assert.equal(websocketUrl("https://ops.example"), "wss://ops.example/ws/opsmessaging/");
});

// --- live -------------------------------------------------------------------------------

const { OPSMESSAGING_URL: site, OPSMESSAGING_PROXY: proxy, OPSMESSAGING_CUT: cut, OPSMESSAGING_TOKEN: token } = process.env;
const live = { skip: site ? false : "no live server (run through tests/client/test_js.py)" };
const auth = { Authorization: `Token ${token}`, "Content-Type": "application/json" };

async function lastSequence() {
  const rows = await (await fetch(`${site}/api/opsmessaging/categories/`, { headers: auth })).json();
  return rows.find((row) => row.category === "alerts").last_sequence ?? 0;
}
async function broadcast(i) {
  const body = { type: "SystemAlert", payload: { severity: "info", category: "data", title: `js ${i}` } };
  const response = await fetch(`${site}/api/opsmessaging/messages/`, { method: "POST", headers: auth, body: JSON.stringify(body) });
  assert.equal(response.status, 201);
}
function collect(options, count, timeout = 30000) {
  const got = [];
  let subscription;
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count}: ${got}`)), timeout);
    subscription = subscribe({
      token, reconnectDelay: 50, ...options, onError: reject,
      onMessage: (m) => {
        got.push(m.sequence);
        if (got.length === count) {
          clearTimeout(timer);
          resolve(got);
        }
      },
    });
  });
  return { done, subscription };
}

test("live: the history replays from since, then delivery continues live", live, async () => {
  const start = await lastSequence();
  for (let i = 0; i < 3; i++) await broadcast(i);
  const states = [];
  const { done, subscription } = collect({ url: site, category: "alerts", since: start, onState: (s) => states.push(s) }, 6);
  while (subscription.state !== "subscribed") await tick();
  for (let i = 3; i < 6; i++) await broadcast(i);
  assert.deepEqual(await done, [1, 2, 3, 4, 5, 6].map((n) => start + n));
  subscription.close();
  assert.deepEqual(states, ["subscribed", "closed"]);
});

test("live: connections dropped mid-stream lose and repeat nothing", live, async () => {
  const start = await lastSequence();
  const total = 90;
  const { done, subscription } = collect({ url: proxy, category: "alerts", since: start }, total);
  for (let i = 0; i < total; i++) {
    if (i === 30 || i === 60) await fetch(cut);
    await broadcast(i);
  }
  assert.deepEqual(await done, Array.from({ length: total }, (_, n) => start + n + 1));
  assert.equal(subscription.reconnects, 2);
  subscription.close();
});
