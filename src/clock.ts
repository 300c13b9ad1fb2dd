/**
 * The one source of time for everything in the product. Code never calls `Date.now()` or `new Date()`
 * for "now": it asks the clock it was given, so tests and test mode can move time (six-month purges,
 * token expiry, re-authorization windows) without waiting.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that runs at real speed from a settable point and only ever moves forward
 * (test mode's `POST /_test/clock`).
 */
export class AdjustableClock implements Clock {
  private offsetMs = 0;

  constructor(private readonly base: Clock = systemClock) {}

  now(): Date {
    return new Date(this.base.now().getTime() + this.offsetMs);
  }

  /** Moves the clock to `target`. Moving backwards is refused: stored times would stop making sense. */
  set(target: Date): void {
    const current = this.now().getTime();
    if (target.getTime() < current) {
      throw new ClockMovedBackwardsError(new Date(current), target);
    }
    this.offsetMs += target.getTime() - current;
  }
}

export class ClockMovedBackwardsError extends Error {
  constructor(
    readonly current: Date,
    readonly requested: Date,
  ) {
    super(`the clock only moves forward: it is ${current.toISOString()}, ${requested.toISOString()} is earlier`);
  }
}
