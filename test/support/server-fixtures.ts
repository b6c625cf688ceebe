import { afterEach } from '@jest/globals';
import { MessageType } from '../../lib/protocol/frame-header.js';
import { recordingLogger, waitUntil } from './loopback-utils.js';
import { testClient } from './test-client.js';
import { startTestProvider, type TestProvider } from './test-provider.js';
import { wirePeer, type WirePeer } from './wire-peer.js';

/** Heartbeats for clients of tests that load the machine on purpose. */
export const RELAXED_HEARTBEAT = Object.freeze({ heartbeatInterval: 1000, heartbeatTimeout: 5000 });

/** A test provider whose server logs into a recording logger (its warnings are asserted on). */
export type LoggedProvider = TestProvider & { logs: ReturnType<typeof recordingLogger> };

/**
 * Providers, clients and raw wire peers for one describe block, each closed after every test
 * (last opened first). `track` registers anything else to close.
 */
export function serverFixtures(clientTimeoutMs: number) {
  const open: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  return {
    track<T extends { close(): unknown }>(o: T): T {
      open.push(o);
      return o;
    },
    async provider(options: Parameters<typeof startTestProvider>[0] = {}): Promise<LoggedProvider> {
      const p = await startTestProvider(options);
      open.push(p);
      const logs = recordingLogger();
      // The server logs through Nest's Logger; keep its lines for assertions.
      (p.server as unknown as { logger: unknown }).logger = logs;
      return Object.assign(p, { logs });
    },
    /**
     * A client whose heartbeat tolerates a machine busy with floods and churn: connections in
     * these tests must be lost only when the test means it.
     */
    client(ports: number | number[], options: Parameters<typeof testClient>[1] = {}) {
      const made = testClient(ports, { timeout: clientTimeoutMs, ...RELAXED_HEARTBEAT, ...options });
      open.push(made.client);
      return made;
    },
    /** A raw peer past the server's Hello. */
    async peer(port: number): Promise<WirePeer> {
      const w = await wirePeer(port);
      open.push(w);
      await waitUntil(() => w.received.some((m) => m.type === MessageType.Hello), 2000, 'server hello');
      return w;
    },
  };
}
