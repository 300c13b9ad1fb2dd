/**
 * The simulators' clock, independent of the product's. Everything time-dependent in the simulators (token
 * expiry, history retention, watch and subscription expiry, quota windows) reads it. It runs at real speed
 * from a settable point unless frozen, so a demo behaves like the real services while tests can pin time.
 */
export interface SimClock {
  now(): Date;
  /** Moves the clock to `at` (either direction: the simulators hold no invariant that forbids it). */
  set(at: Date): void;
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void;
  /** Frozen: time only moves through set/advance. */
  readonly frozen: boolean;
  setFrozen(frozen: boolean): void;
  /** Called after every set/advance (providers re-evaluate lifecycles). */
  onSet(fn: (now: Date) => void): void;
}

export function createClock(opts: { now?: Date; frozen?: boolean } = {}): SimClock {
  let offset = opts.now ? opts.now.getTime() - Date.now() : 0;
  let frozenAt: number | null = opts.frozen ? (opts.now ?? new Date()).getTime() : null;
  const listeners: Array<(now: Date) => void> = [];
  const nowMs = () => (frozenAt !== null ? frozenAt : Date.now() + offset);
  const notify = () => {
    const at = new Date(nowMs());
    for (const fn of listeners) fn(at);
  };
  return {
    now: () => new Date(nowMs()),
    set(at) {
      if (frozenAt !== null) frozenAt = at.getTime();
      else offset = at.getTime() - Date.now();
      notify();
    },
    advance(ms) {
      this.set(new Date(nowMs() + ms));
    },
    get frozen() {
      return frozenAt !== null;
    },
    setFrozen(frozen) {
      if (frozen && frozenAt === null) frozenAt = nowMs();
      if (!frozen && frozenAt !== null) {
        offset = frozenAt - Date.now();
        frozenAt = null;
      }
    },
    onSet(fn) {
      listeners.push(fn);
    },
  };
}
