import type { Provider } from './mail.ts';

/** Injected faults (`POST /_sim/faults`), consumed by the provider routes on matching requests. */

export type FaultKind = 'http_400' | 'http_429' | 'http_500' | 'http_503' | 'timeout' | 'reset' | 'cursor_expired' | 'invalid_grant';
export const FAULT_KINDS: readonly FaultKind[] = ['http_400', 'http_429', 'http_500', 'http_503', 'timeout', 'reset', 'cursor_expired', 'invalid_grant'];

export interface FaultSpec {
  provider: Provider;
  /**
   * `path`: a literal piece of the request path (and query), matched as written — `/gmail/v1/users/me/messages` is a
   * path, not a pattern. A regular expression only in the explicit form `re:/…/flags` (`re:/\/me$/`).
   */
  match: { method?: string; path?: string };
  fault: FaultKind;
  /** How many matching requests fail (default 1). */
  count?: number;
  retryAfterSeconds?: number;
}

export interface ActiveFault {
  id: string;
  provider: Provider;
  match: { method?: string; path?: string };
  fault: FaultKind;
  remaining: number;
  retryAfterSeconds?: number;
}

const REGEX_FORM = /^re:\/(.+)\/([dgimsuvy]*)$/;

/**
 * A fault's `path` pattern: a regular expression when written `re:/…/flags`, otherwise the literal text. Throws for
 * an explicit regular expression that does not compile (the control API refuses it with a 400).
 */
export function parseFaultPath(pattern: string): { regex: RegExp } | { literal: string } {
  const re = REGEX_FORM.exec(pattern);
  if (!re) return { literal: pattern };
  // `g` and `y` would make `test` stateful across requests.
  return { regex: new RegExp(re[1]!, re[2]!.replace(/[gy]/g, '')) };
}

function pathMatches(pattern: string | undefined, path: string): boolean {
  if (!pattern) return true;
  let parsed: ReturnType<typeof parseFaultPath>;
  try {
    parsed = parseFaultPath(pattern);
  } catch {
    return false;
  }
  return 'regex' in parsed ? parsed.regex.test(path) : path.includes(parsed.literal);
}

export class Faults {
  private list: ActiveFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): ActiveFault {
    const fault: ActiveFault = {
      id: `fault-${this.nextId++}`,
      provider: spec.provider,
      match: { ...spec.match },
      fault: spec.fault,
      remaining: spec.count ?? 1,
      ...(spec.retryAfterSeconds !== undefined ? { retryAfterSeconds: spec.retryAfterSeconds } : {}),
    };
    this.list.push(fault);
    return fault;
  }

  /**
   * The first active fault matching the request, consumed once. `kinds` restricts which faults this call
   * site can produce (e.g. `cursor_expired` only on history/delta, `invalid_grant` only on token requests).
   */
  take(provider: Provider, method: string, path: string, kinds?: readonly FaultKind[]): ActiveFault | undefined {
    const i = this.list.findIndex(
      (f) =>
        f.provider === provider &&
        f.remaining > 0 &&
        (!kinds || kinds.includes(f.fault)) &&
        (!f.match.method || f.match.method.toUpperCase() === method.toUpperCase()) &&
        pathMatches(f.match.path, path),
    );
    if (i < 0) return undefined;
    const f = this.list[i]!;
    f.remaining--;
    if (f.remaining <= 0) this.list.splice(i, 1);
    return f;
  }

  active(): ActiveFault[] {
    return this.list.map((f) => ({ ...f }));
  }

  clear(provider?: Provider): void {
    this.list = provider ? this.list.filter((f) => f.provider !== provider) : [];
  }
}
