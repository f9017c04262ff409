/* The opsmessaging WebSocket client: every message of a subscription exactly once, in
 * order, across dropped connections, server restarts, `behind` and `resume` frames.
 *
 * An ES module without dependencies, for browsers (session cookie) and Node >= 22 (or 20
 * with --experimental-websocket; a DRF token is sent as `Authorization: Token <key>`
 * through the non-standard `headers` option of Node's WebSocket).
 */

export const WEBSOCKET_PATH = "/ws/opsmessaging/";
export const CLOSE_NOT_AUTHENTICATED = 4401;
const RETRYABLE_ERRORS = new Set(["store_unavailable"]);

export class ClientError extends Error {}
/** The category's log was reset (a new epoch) and no `onReset` was given. */
export class EpochChanged extends ClientError {
  constructor(reset) {
    super(`the '${reset.category}' log was reset (epoch ${reset.previousEpoch} -> ${reset.epoch}) after sequence ${reset.lastSequence}; pass onReset to start again`);
    this.reset = reset;
  }
}
export class NotAuthenticated extends ClientError {}
export class SubscriptionRefused extends ClientError {
  constructor(code, detail) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}

/** The endpoint's URL: http(s) becomes ws(s), a bare host gets WEBSOCKET_PATH. */
export function websocketUrl(url) {
  const base = globalThis.location ? globalThis.location.href : undefined;
  const parsed = new URL(url || WEBSOCKET_PATH, base);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.pathname === "/" || parsed.pathname === "") parsed.pathname = WEBSOCKET_PATH;
  parsed.hash = "";
  return parsed.toString();
}

export function subscribe(options) {
  const {
    url,
    category,
    topic = null,
    filters = null,
    token = null,
    onMessage = () => {},
    onState = () => {},
    onReset = null,
    onError = (error) => console.error(error),
    reconnectDelay = 500,
    maxReconnectDelay = 30000,
    pingAfter = 15000,
    WebSocket: Socket = globalThis.WebSocket,
  } = options;
  const endpoint = websocketUrl(url);
  const contiguous = topic === null && !(filters && Object.keys(filters).length);
  let last = options.since === undefined ? 0 : options.since;
  let epoch = options.epoch ?? null;
  let state = "connecting";
  let awaiting = false;
  let failures = 0;
  let closed = false;
  let socket = null;
  let retryTimer = null;
  let silenceTimer = null;
  const counts = { reconnects: 0, resubscriptions: 0 };

  const setState = (next) => {
    if (next !== state) {
      state = next;
      onState(next);
    }
  };
  const delay = () => {
    const full = Math.min(maxReconnectDelay, reconnectDelay * 2 ** failures++);
    return full / 2 + Math.random() * (full / 2);
  };
  const ours = (described) => described && described.category === category && (described.topic ?? null) === topic;

  function send(frame) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
  }
  function subscribeFrame() {
    awaiting = true;
    const frame = { action: "subscribe", category };
    if (topic !== null) frame.topic = topic;
    if (last !== null) frame.since = last;
    if (filters && Object.keys(filters).length) frame.filters = filters;
    if (epoch !== null) frame.epoch = epoch;
    send(frame);
  }
  function resubscribe() {
    counts.resubscriptions++;
    subscribeFrame();
  }
  function stop(error) {
    closed = true;
    clearTimeout(retryTimer);
    clearTimeout(silenceTimer);
    if (socket) socket.close();
    setState("closed");
    if (error) onError(error);
  }
  function reset(newEpoch) {
    awaiting = true; // until the subscription of the new epoch is answered
    const info = { category, topic, previousEpoch: epoch, epoch: newEpoch ?? null, lastSequence: last ?? 0 };
    if (!onReset) return stop(new EpochChanged(info));
    Promise.resolve(onReset(info)).then((since) => {
      last = since ?? 0;
      epoch = info.epoch;
      subscribeFrame();
    }, stop);
  }

  function handle(frame) {
    const kind = frame.type;
    if (kind === "message") {
      if (awaiting || !ours(frame.subscription)) return;
      const sequence = frame.message.sequence;
      if (last !== null) {
        if (sequence <= last) return; // already handed out
        if (contiguous && sequence !== last + 1) return resubscribe(); // a lost frame
      }
      last = sequence;
      onMessage(frame.message);
    } else if (kind === "subscribed" && ours(frame)) {
      const given = frame.epoch ?? null; // a server without epochs: unknown, not changed
      if (epoch !== null && given !== null && given !== epoch) return reset(given);
      if (given !== null) epoch = given;
      awaiting = false;
      failures = 0;
      if (last === null) last = frame.last_sequence;
      const first = frame.pruned && frame.pruned.first_available_sequence;
      if (first && first > last + 1) last = first - 1; // pruned by retention: gone
      setState("subscribed");
    } else if ((kind === "behind" || kind === "resume") && ours(frame)) {
      if (!awaiting) resubscribe();
    } else if (kind === "error") {
      if (frame.code === "not_authenticated") return stop(new NotAuthenticated(frame.detail));
      if (frame.code === "epoch_changed") return reset(frame.epoch);
      if (RETRYABLE_ERRORS.has(frame.code)) {
        awaiting = false;
        retryTimer = setTimeout(subscribeFrame, delay());
        return;
      }
      stop(new SubscriptionRefused(frame.code, frame.detail));
    }
  }

  function heard() {
    clearTimeout(silenceTimer);
    if (!pingAfter) return;
    silenceTimer = setTimeout(() => {
      send({ action: "ping" });
      silenceTimer = setTimeout(() => socket && socket.close(), pingAfter);
    }, pingAfter);
  }

  function connect() {
    if (closed) return;
    const current = token ? new Socket(endpoint, { headers: { Authorization: `Token ${token}` } }) : new Socket(endpoint);
    socket = current;
    current.onopen = () => {
      heard();
      subscribeFrame();
    };
    current.onmessage = (event) => {
      if (socket !== current) return;
      heard();
      handle(JSON.parse(event.data));
    };
    current.onclose = (event) => {
      if (socket !== current || closed) return;
      clearTimeout(silenceTimer);
      if (event.code === CLOSE_NOT_AUTHENTICATED) return stop(new NotAuthenticated("the server refused the credentials (4401)"));
      counts.reconnects++;
      setState("reconnecting");
      retryTimer = setTimeout(connect, delay());
    };
    current.onerror = () => {}; // a close event follows
  }

  connect();
  return {
    close: () => stop(null),
    get lastSequence() { return last; },
    get epoch() { return epoch; },
    get state() { return state; },
    get reconnects() { return counts.reconnects; },
    get resubscriptions() { return counts.resubscriptions; },
  };
}
