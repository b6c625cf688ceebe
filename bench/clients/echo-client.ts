/** What the load loop drives: one connection to one system's echo server. */
export interface EchoClient {
  connect(): Promise<void>;
  /** Resolves with the echoed payload. */
  echo(payload: string): Promise<unknown>;
  close(): Promise<void>;
}
