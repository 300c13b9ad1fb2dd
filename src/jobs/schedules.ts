import { parseCron, nextCronRun } from './cron.ts';

/** How often a recurring job runs: a fixed interval, or a five-field cron expression in UTC. */
export type Every = { seconds: number } | { cron: string };

export interface Recurrence {
  /** Stored form: `every <n>s` or `cron <expression>`. */
  text: string;
  /** The first run after a schedule is created at `now`. */
  first(now: Date): Date;
  /** The next run after the one due at `due`, skipping runs missed up to `now` (one run covers them). */
  following(due: Date, now: Date): Date;
}

export function recurrence(every: Every): Recurrence {
  if ('seconds' in every) {
    const seconds = every.seconds;
    if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`a schedule interval must be a whole number of seconds ≥ 1, not ${seconds}`);
    const ms = seconds * 1000;
    return {
      text: `every ${seconds}s`,
      first: (now) => new Date(now.getTime() + ms),
      following: (due, now) => {
        // Keep the phase of the schedule: the next multiple of the interval after now.
        const missed = Math.floor((now.getTime() - due.getTime()) / ms);
        return new Date(due.getTime() + (Math.max(missed, 0) + 1) * ms);
      },
    };
  }
  const cron = parseCron(every.cron);
  return {
    text: `cron ${cron.source}`,
    first: (now) => nextCronRun(cron, now),
    following: (due, now) => nextCronRun(cron, now.getTime() > due.getTime() ? now : due),
  };
}

export function parseRecurrence(text: string): Recurrence {
  const interval = /^every (\d+)s$/.exec(text);
  if (interval) return recurrence({ seconds: Number(interval[1]) });
  if (text.startsWith('cron ')) return recurrence({ cron: text.slice(5) });
  throw new Error(`unreadable schedule "${text}"`);
}
