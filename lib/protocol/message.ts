import { MessageType } from './frame-header.js';

/** Packet metadata carried with requests and events (Nest's `packet.metadata`). */
export type Metadata = Record<string, string>;

/** Settings a peer announces in its Hello frame. */
export interface HelloSettings {
  /** The server closes connections whose reader is idle this long (ms); 0 = never. */
  idleTimeoutMs: number;
  /** Largest frame the sender accepts. */
  maxFrameSize: number;
}

export interface RequestMessage {
  type: MessageType.Request;
  requestId: number;
  pattern: string;
  data: unknown;
  metadata?: Metadata;
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
