/**
 * The attackers of the fuzz: `connections` concurrent sockets, each running sessions of hostile
 * steps (scripts/fuzz-frames.ts) and reconnecting when a session ends, until `frames` frames
 * have been sent. Every connection is accounted for: who closed it (the server, as it must
 * after a fatal step, or the attacker), how fast, and under which local port, which is how the
 * server's log lines are matched to connections.
 */
import { connect, type Socket } from 'node:net';
import { generateStep } from './fuzz-frames.js';
import { AttackContext, CATEGORIES, DEFAULT_WEIGHTS, SharedPayloads, type Category, type TargetLimits } from './fuzz-plan.js';
import { FuzzRandom } from './fuzz-random.js';

export interface AttackOptions {
  host: string;
  port: number;
  /** Frames to send in total. */
  frames: number;
  /** Concurrent attacker connections. */
  connections: number;
  seed: number;
  limits: TargetLimits;
  /** How long the server may take to close a connection after a fatal step (ms). */
  fatalCloseWithinMs: number;
  /** How long a stalled partial frame may live (the server's frame timeout plus its idle timeout, plus slack). */
  stallCloseWithinMs: number;
  weights?: Partial<Record<Category, number>>;
  /** Called every few seconds with a one-line status (long runs). */
  progress?: (line: string) => void;
  /**
   * Gives up after this long (ms): every attacker socket is destroyed and the result says so,
   * so a server that hangs fails the run instead of hanging it.
   */
  maxDurationMs?: number;
}

/** One attacker connection, as the attacker saw it. */
export interface ConnectionRecord {
  localPort: number;
  /** The session's last step broke framing: the server had to close. */
  fatal: boolean;
  stalled: boolean;
  /**
   * An earlier step of the session may have shifted the stream (a lying length, random flips), so
   * the last step's bytes may have been read as part of another frame: the server must still
   * close the connection in time, but which fault it sees (if any) is not known.
   */
  uncertain: boolean;
  frames: number;
  /** 'server' = the server closed it; 'attacker' = we ended it; 'timeout' = a fatal/stall step the server did not act on. */
  closedBy: 'server' | 'attacker' | 'timeout';
  /** From the last byte written to the server's close (fatal and stall sessions). */
  closeMs?: number;
}

export interface AttackResult {
  framesSent: number;
  framesByCategory: Record<Category, number>;
  stepsByCategory: Record<Category, number>;
  connections: ConnectionRecord[];
  /** Connect failures (ECONNREFUSED, resets during connect...): the server must accept them all. */
  connectErrors: number;
  /** The attack hit `maxDurationMs` and was cut short. */
  abandoned: boolean;
  bytesSent: number;
  bytesReceived: number;
  durationMs: number;
}

/** A session is 1..MAX_SESSION_STEPS steps; most end with the attacker closing, some with a fatal step. */
const MAX_SESSION_STEPS = 60;
const GZIP_BOMB_INFLATED = 64 * 1024 * 1024;

export async function runAttack(options: AttackOptions): Promise<AttackResult> {
  const weights = { ...DEFAULT_WEIGHTS, ...options.weights };
  const rng = new FuzzRandom(options.seed);
  // The bomb inflates far past any sane maxBodySize: the server must stop at its own limit.
  const shared = new SharedPayloads(Math.max(GZIP_BOMB_INFLATED, options.limits.maxBodySize * 2), rng.fork());
  const zero = () => Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const result: AttackResult = {
    framesSent: 0,
    framesByCategory: zero(),
    stepsByCategory: zero(),
    connections: [],
    connectErrors: 0,
    abandoned: false,
    bytesSent: 0,
    bytesReceived: 0,
    durationMs: 0,
  };
  const started = performance.now();
  let budget = options.frames;
  const active = new Map<number, string>();
  const sockets = new Set<Socket>();
  const deadline =
    options.maxDurationMs === undefined
      ? undefined
      : setTimeout(() => {
          result.abandoned = true;
          budget = 0;
          for (const socket of sockets) socket.destroy();
        }, options.maxDurationMs);
  const ticker = options.progress
    ? setInterval(() => {
        const phases = new Map<string, number>();
        for (const phase of active.values()) phases.set(phase, (phases.get(phase) ?? 0) + 1);
        options.progress!(
          `${result.framesSent} frames, ${result.connections.length} connections done; open: ${[...phases].map(([p, n]) => `${p} ${n}`).join(', ') || 'none'}`,
        );
      }, 2000)
    : undefined;
  const worker = async (workerRng: FuzzRandom, id: number): Promise<void> => {
    while (budget > 0) {
      const ctx = new AttackContext(workerRng.fork(), options.limits, shared);
      const record = await session(options, ctx, weights, result, sockets, (n) => void (budget -= n), (phase) => active.set(id, phase));
      active.delete(id);
      if (record) result.connections.push(record);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, (_, id) => worker(rng.fork(), id)));
  } finally {
    clearInterval(ticker);
    clearTimeout(deadline);
  }
  result.durationMs = performance.now() - started;
  return result;
}

/** One connection: connect, send steps, close or wait to be closed. */
async function session(
  options: AttackOptions,
  ctx: AttackContext,
  weights: Record<Category, number>,
  result: AttackResult,
  sockets: Set<Socket>,
  spend: (frames: number) => void,
  phase: (what: string) => void,
): Promise<ConnectionRecord | undefined> {
  phase('connecting');
  if (result.abandoned) return undefined;
  const socket = connect({ host: options.host, port: options.port });
  socket.setNoDelay(true);
  sockets.add(socket);
  let serverClosedAt: number | undefined;
  let weClosed = false;
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      sockets.delete(socket);
      resolve();
    }),
  );
  // Reads everything, so the server's write buffer never fills: answers to garbage still flow.
  socket.on('data', (chunk: Buffer) => void (result.bytesReceived += chunk.length));
  socket.on('end', () => {
    if (!weClosed) serverClosedAt ??= performance.now();
  });
  socket.on('error', () => {
    // EPIPE / ECONNRESET after the server cut us: expected, judged by who closed first.
    if (!weClosed) serverClosedAt ??= performance.now();
  });
  socket.on('close', () => {
    if (!weClosed) serverClosedAt ??= performance.now();
  });
  const connected = await new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
  });
  if (!connected) {
    result.connectErrors++;
    socket.destroy();
    await closed;
    return undefined;
  }
  const record: ConnectionRecord = {
    localPort: socket.localPort ?? 0,
    fatal: false,
    stalled: false,
    uncertain: false,
    frames: 0,
    closedBy: 'attacker',
  };
  const steps = ctx.rng.size(1, MAX_SESSION_STEPS);
  let lastWriteAt = performance.now();
  phase('sending');
  for (let i = 0; i < steps; i++) {
    if (serverClosedAt !== undefined) break;
    const category = ctx.rng.weighted(weights);
    const step = generateStep(ctx, category);
    result.stepsByCategory[category]++;
    result.framesByCategory[category] += step.frames;
    result.framesSent += step.frames;
    record.frames += step.frames;
    spend(step.frames);
    for (const chunk of step.chunks) {
      if (socket.destroyed) break;
      result.bytesSent += chunk.length;
      if (!socket.write(chunk)) {
        phase(`draining ${category}`);
        await drained(socket);
        phase('sending');
      }
    }
    lastWriteAt = performance.now();
    if (step.effect === 'any') record.uncertain = true;
    if (step.effect === 'fatal' || step.effect === 'stall') {
      record.fatal = step.effect === 'fatal';
      record.stalled = step.effect === 'stall';
      break;
    }
    if (step.effect === 'truncate') break;
  }
  phase(record.fatal ? 'awaiting close after fatal' : record.stalled ? 'stalled' : 'closing');
  if (record.fatal || record.stalled) {
    const limit = record.fatal && !record.uncertain ? options.fatalCloseWithinMs : options.stallCloseWithinMs;
    const inTime = await within(closed, limit);
    if (!inTime || serverClosedAt === undefined) {
      record.closedBy = 'timeout';
      weClosed = true;
      socket.destroy();
    } else {
      record.closedBy = 'server';
      record.closeMs = serverClosedAt - lastWriteAt;
    }
  } else if (serverClosedAt !== undefined) {
    record.closedBy = 'server';
  } else {
    weClosed = true;
    // Half of the sessions end politely, half with a reset.
    if (ctx.rng.chance(0.5)) socket.end();
    else socket.destroy();
    if (serverClosedAt !== undefined) record.closedBy = 'server';
  }
  // After our FIN the server must close its side too; a server that does not is a leak.
  if (!(await within(closed, options.fatalCloseWithinMs))) {
    record.closedBy = 'timeout';
    socket.destroy();
    await closed;
  }
  return record;
}

function drained(socket: Socket): Promise<void> {
  // Cut while writing: 'close' may already have fired, and would never come again.
  if (socket.destroyed || !socket.writable) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/** True when `promise` settles within `ms`; the timer never outlives the wait. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
