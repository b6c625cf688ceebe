import { MsRpcLogger } from '../common/logger.js';

/**
 * Life of a client connection slot, as in gRPC's subchannel: `idle` (never connected or
 * released), `connecting`, `ready`, `transient-failure` (lost or failed; the watchdog decides
 * when to try again) and `closed` (terminal).
 */
export type ConnectionState = 'idle' | 'connecting' | 'ready' | 'transient-failure' | 'closed';

const ALLOWED: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['ready', 'transient-failure', 'closed'],
  ready: ['transient-failure', 'closed'],
  'transient-failure': ['connecting', 'closed'],
  closed: [],
};

export type StateChangeListener = (from: ConnectionState, to: ConnectionState, reason: Error | undefined) => void;

/** Thrown on a move the table above forbids: always a bug in the caller, never peer input. */
export class IllegalTransitionError extends Error {
  constructor(label: string, from: ConnectionState, to: ConnectionState) {
    super(`${label}: illegal connection state transition ${from} -> ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

/** Holds the state and is the only place it changes: validates, logs `a -> b`, notifies. */
export class ConnectionStateMachine {
  private current: ConnectionState = 'idle';

  constructor(
    private readonly label: string,
    private readonly logger: MsRpcLogger,
    private readonly onChange: StateChangeListener,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  canTransition(to: ConnectionState): boolean {
    return ALLOWED[this.current].includes(to);
  }

  transition(to: ConnectionState, reason?: Error): void {
    const from = this.current;
    if (!ALLOWED[from].includes(to)) throw new IllegalTransitionError(this.label, from, to);
    this.current = to;
    // Routine: every connect, loss and close. Verbose, so that Nest's `debug` level stays for failures.
    this.logger.verbose?.(`${this.label}: ${from} -> ${to}${reason ? ` (${reason.message})` : ''}`);
    this.onChange(from, to, reason);
  }
}
