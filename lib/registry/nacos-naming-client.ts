import { format, types } from 'node:util';
import type { EventEmitter } from 'node:events';
import type * as NacosPackage from 'nacos';
import type { Clock } from '../common/clock.js';
import { loadOptionalPackage } from '../common/optional-package.js';
import type { MsRpcLogger } from '../common/logger.js';
import { NacosBeatScheduler, type NacosBeatInfo } from './nacos-beat-scheduler.js';

import type { NacosHost } from './nacos-instance.js';

export type { NacosHost } from './nacos-instance.js';

export interface NacosInstanceSpec {
  ip: string;
  port: number;
  weight?: number;
  healthy?: boolean;
  enabled?: boolean;
  ephemeral?: boolean;
  clusterName?: string;
  metadata?: Record<string, string>;
}

export interface NacosSubscribeInfo {
  serviceName: string;
  groupName: string;
  clusters: string;
}

/**
 * The part of `NacosNamingClient` (nacos 2.6.x) this layer uses, typed from its source rather than
 * its bundled d.ts, which lacks close() and declares getServerStatus() synchronous.
 */
export interface NamingClient {
  ready(): Promise<void>;
  registerInstance(service: string, instance: NacosInstanceSpec, group: string): Promise<unknown>;
  deregisterInstance(service: string, instance: NacosInstanceSpec, group: string): Promise<unknown>;
  getAllInstances(service: string, group: string, clusters: string, subscribe: boolean): Promise<NacosHost[]>;
  subscribe(info: NacosSubscribeInfo, listener: (hosts: NacosHost[]) => void): void;
  unSubscribe(info: NacosSubscribeInfo, listener: (hosts: NacosHost[]) => void): void;
  getServerStatus(): Promise<'UP' | 'DOWN'>;
  close(): Promise<void>;
}

export interface NamingClientConfig {
  serverList: string[];
  namespace: string;
  username?: string;
  password?: string;
  /** HTTPS to the servers. */
  ssl?: boolean;
}

/** Private fields of nacos-naming 2.6.x touched below; every access is shape-checked first. */
interface ClientInternals {
  _serverProxy?: { sendBeat?: (beat: NacosBeatInfo) => Promise<number> };
  _beatReactor?: { _isClosed?: boolean; _clientBeatInterval?: number; addBeatInfo?: unknown; close?: unknown };
  _hostReactor?: EventEmitter & { _pushReceiver?: EventEmitter };
}

/** The `nacos` package (CommonJS: its `module.exports`). */
export type NacosModule = Pick<typeof NacosPackage, 'NacosNamingClient'>;

/**
 * Imports the `nacos` package (an optional peer) on first use: only `protocol: 'http'` needs it.
 * @throws MissingDependencyError saying to `npm install nacos`.
 */
export function loadNacosPackage(): Promise<NacosModule> {
  return loadOptionalPackage<NacosModule>("Nacos over HTTP (NacosRegistry protocol 'http')", ['nacos'], () => import('nacos'));
}

/**
 * Creates a `NacosNamingClient` from the loaded package and fixes two behaviours of nacos-naming 2.6.x that hurt a library:
 *
 * 1. Its BeatReactor loops `await sleep(interval)` with a non-unref'd timer that close() cannot
 *    cancel, so every client (even an unused one) keeps the process — and jest — alive for up to
 *    10 s after close(). Right after construction (before that loop's first sleep is even armed,
 *    which happens a microtask later) the original reactor is marked closed with a zero interval, so
 *    its loop ends after a single 0 ms sleep, and it is replaced by {@link NacosBeatScheduler},
 *    whose timers go through the injected clock (unref'd) and are cleared on close. The client reads
 *    `this._beatReactor` on every register/deregister/close, so the swap is complete.
 * 2. Its HostReactor and PushReceiver emit 'error' (e.g. every failed poll during an outage), which
 *    sdk-base prints to console.error with a stack unless a second listener exists; they are routed
 *    to the registry logger instead.
 *
 * If a future client version changes these internals, the fixes are skipped with a warning and the
 * client still works (only the exit delay and console noise come back).
 */
export function createNamingClient(
  nacos: NacosModule,
  config: NamingClientConfig,
  logger: MsRpcLogger,
  clock: Clock,
): NamingClient {
  const client = new nacos.NacosNamingClient({
    ...config,
    logger: nacosClientLogger(logger) as unknown as typeof console,
  }) as unknown as NamingClient & ClientInternals;

  const proxy = client._serverProxy;
  const reactor = client._beatReactor;
  if (reactor && typeof reactor.addBeatInfo === 'function' && typeof proxy?.sendBeat === 'function') {
    reactor._isClosed = true;
    reactor._clientBeatInterval = 0;
    client._beatReactor = new NacosBeatScheduler((beat) => proxy.sendBeat!(beat), clock) as never;
  } else {
    logger.warn('nacos client internals changed: beat loop not replaced, close() may delay process exit by up to 10 s');
  }

  const onError = (err: unknown) => logger.warn(`nacos client: ${describe(err)}`);
  const hostReactor = client._hostReactor;
  if (hostReactor && typeof hostReactor.on === 'function') {
    hostReactor.on('error', onError);
    if (hostReactor._pushReceiver && typeof hostReactor._pushReceiver.on === 'function') {
      hostReactor._pushReceiver.on('error', onError);
    }
  }
  (client as unknown as EventEmitter).on('error', onError);
  return client;
}

/**
 * The client logs printf-style (`'%s ... %j'`) on info/warn/error/debug. Its info level reports
 * every registration, poll result and push, so it is demoted to debug.
 */
export function nacosClientLogger(logger: MsRpcLogger): Record<'debug' | 'info' | 'warn' | 'error', (...args: unknown[]) => void> {
  const text = (args: unknown[]) => `nacos client: ${format(...args.map((a) => (isError(a) ? describe(a) : a)))}`;
  return {
    debug: (...args) => logger.debug?.(text(args)),
    info: (...args) => logger.debug?.(text(args)),
    warn: (...args) => logger.warn(text(args)),
    error: (...args) => logger.error(text(args)),
  };
}

/** Errors from node core come from another realm under jest's VM modules, so no `instanceof`. */
function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

export function describe(err: unknown): string {
  return isError(err) ? `${err.name}: ${err.message}` : String(err);
}
