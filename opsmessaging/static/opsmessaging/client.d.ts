/** A stored message in its wire form. */
export interface WireMessage {
  id: number;
  message_id: string;
  category: string;
  topic: string;
  tag: string;
  payload_type: string;
  version: number;
  node: string;
  source_node: string;
  originating_node: string;
  /** RFC 3339, UTC, milliseconds. */
  timestamp: string;
  severity: string | null;
  /** Its place in its category's log: from 1, contiguous, in commit order. */
  sequence: number;
  /** null when the server holds no key that decrypts it. */
  payload: Record<string, unknown> | null;
  signature_valid: boolean | null;
}

export type State = "connecting" | "subscribed" | "reconnecting" | "closed";

/** The category's log was reset (a new epoch): sequences start again. */
export interface Reset {
  category: string;
  topic: string | null;
  previousEpoch: string | null;
  epoch: string | null;
  /** The last sequence handled in the old epoch. */
  lastSequence: number;
}

export interface SubscribeOptions {
  /** ws(s):// or http(s):// URL of the site or the endpoint; default: this page's site. */
  url?: string;
  category: string;
  topic?: string | null;
  /** The last sequence already handled: 0 (default) replays the kept history, null starts now. */
  since?: number | null;
  /** The epoch `since` belongs to, when persisted with it. */
  epoch?: string | null;
  filters?: { node?: string; severity?: string } | null;
  /** A DRF token (Node); browsers use the session cookie. */
  token?: string | null;
  onMessage?: (message: WireMessage) => void;
  onState?: (state: State) => void;
  /** Called on an epoch change; returns the sequence to continue after (0: the new log's start). */
  onReset?: ((reset: Reset) => number | null | void | Promise<number | null | void>) | null;
  /** Called when the subscription stops for good (EpochChanged, NotAuthenticated, SubscriptionRefused). */
  onError?: (error: ClientError) => void;
  /** Milliseconds; doubled after each failure, with jitter, up to maxReconnectDelay. */
  reconnectDelay?: number;
  maxReconnectDelay?: number;
  /** Milliseconds of silence before a ping, and again before the connection is given up. */
  pingAfter?: number;
  /** A WebSocket implementation (default: the global one). */
  WebSocket?: unknown;
}

export interface Subscription {
  close(): void;
  readonly lastSequence: number | null;
  readonly epoch: string | null;
  readonly state: State;
  readonly reconnects: number;
  readonly resubscriptions: number;
}

export const WEBSOCKET_PATH: "/ws/opsmessaging/";
export const CLOSE_NOT_AUTHENTICATED: 4401;
export class ClientError extends Error {}
export class EpochChanged extends ClientError {
  reset: Reset;
}
export class NotAuthenticated extends ClientError {}
export class SubscriptionRefused extends ClientError {
  code: string;
  detail: string;
}
export function websocketUrl(url?: string): string;
export function subscribe(options: SubscribeOptions): Subscription;
