import { MessageType } from './frame-header.js';

/** Packet metadata carried with requests and events (Nest's `packet.metadata`). */
export type Metadata = Record<string, string>;

/**
 * Settings a peer announces in its Hello frame. The server says Hello on accept (or, when it
 * authenticates clients, once the client's Hello was accepted); the client says Hello right after
 * connecting, so the server knows the largest frame it may send back.
 */
export interface HelloSettings {
  /** The sender closes connections whose reader is idle this long (ms); 0 = never (clients). */
  idleTimeoutMs: number;
  /** Largest frame the sender accepts: the peer must not send it a larger one. */
  maxFrameSize: number;
  /** Client Hello only: the shared token, for a server that authenticates clients. */
  authToken?: string;
  /**
   * Server Hello only: the request patterns it serves, so that a client in direct mode fails a call
   * nobody serves at once, as one in discovery mode does from the registry's metadata. Absent from
   * older servers (then the client learns it from their "no handler" replies).
   */
  patterns?: string[];
  /** Server Hello only: the event patterns it handles. */
  events?: string[];
  /**
   * Server Hello only: the server reads DeadlineRequest frames (requests that carry the caller's
   * remaining time budget). Absent from older servers, which are sent plain Requests.
   */
  deadlines?: boolean;
}

export interface RequestMessage {
  type: MessageType.Request;
  requestId: number;
  pattern: string;
  data: unknown;
  metadata?: Metadata;
  /**
   * The caller's remaining time budget in ms when it sent the request (relative: the two hosts'
   * clocks need not agree). Encoded as a DeadlineRequest frame; absent from older clients.
   */
  budgetMs?: number;
}

export interface EventMessage {
  type: MessageType.Event;
  pattern: string;
  data: unknown;
  metadata?: Metadata;
}

export interface ResponseMessage {
  type: MessageType.Response;
  requestId: number;
  data: unknown;
}

/** Stream completion; `data` is a last value when `hasData` (saves a frame for unary calls). */
export interface EndMessage {
  type: MessageType.End;
  requestId: number;
  hasData: boolean;
  data?: unknown;
}

export interface ErrorMessage {
  type: MessageType.Error;
  requestId: number;
  error: unknown;
}

export interface ControlMessage {
  type: MessageType.Ping | MessageType.Pong | MessageType.Cancel;
  requestId: number;
}

export interface GoAwayMessage {
  type: MessageType.GoAway;
  reason: string;
}

export interface HelloMessage {
  type: MessageType.Hello;
  settings: HelloSettings;
}

export type Message =
  | RequestMessage
  | EventMessage
  | ResponseMessage
  | EndMessage
  | ErrorMessage
  | ControlMessage
  | GoAwayMessage
  | HelloMessage;
