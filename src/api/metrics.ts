import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { quotaCounters } from '../providers/budget.ts';

/** Prometheus metrics of one process, served at `/metrics`. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'recruiter_sync_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'recruiter_sync_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // the process's counts, read at each scrape (kept by providerFetch).
  new Counter({
    name: 'recruiter_sync_provider_rate_limit_answers_total',
    help: 'Rate-limit answers (429, or 403 for quota) received from providers; the quota budget keeps this at zero',
    labelNames: ['provider'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [provider, n] of Object.entries(quotaCounters.rateLimitAnswers)) this.inc({ provider }, n);
    },
  });
  new Counter({
    name: 'recruiter_sync_quota_budget_waits_total',
    help: "Provider calls that had to wait for their mailbox's quota budget (units or concurrency)",
    labelNames: ['provider'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [provider, n] of Object.entries(quotaCounters.budgetWaits)) this.inc({ provider }, n);
    },
  });
  return { registry, httpRequests, httpDuration };
}

export type Metrics = ReturnType<typeof createMetrics>;
