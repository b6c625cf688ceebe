/**
 * Seeded pseudo-random numbers for the chaos soak (mulberry32: 32-bit state, fast, good enough to
 * spread faults; not for anything secret). The same seed gives the same fault plan, gaps and call
 * mix, so a run that broke something can be replayed with `--seed`; what the network and the
 * scheduler do with that plan still varies from run to run.
 */
export class SoakRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('SoakRandom.pick: no items');
    return items[Math.floor(this.next() * items.length)];
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** An independent stream derived from this one (e.g. one per call loop), still reproducible. */
  fork(): SoakRandom {
    return new SoakRandom(Math.floor(this.next() * 4294967296));
  }
}

/**
 * Draws from `items` in shuffled rounds: every item once per round, so a short run still sees each
 * fault kind early instead of whatever a skewed random sequence favours.
 */
export class ShuffleBag<T> {
  private bag: T[] = [];

  constructor(
    private readonly items: readonly T[],
    private readonly random: SoakRandom,
  ) {
    if (items.length === 0) throw new RangeError('ShuffleBag: no items');
  }

  next(): T {
    if (this.bag.length === 0) this.bag = this.random.shuffle(this.items);
    return this.bag.pop()!;
  }

  /** Puts an item back on top, to be drawn next (a fault that could not be injected yet). */
  putBack(item: T): void {
    this.bag.push(item);
  }
}
