/**
 * Prometheus metrics (prom-client). Label values come from small fixed sets only: never a user, an address or a
 * Call-ID, so the series count cannot grow with traffic.
 */
import client from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';

const KNOWN_METHODS = new Set([
  'REGISTER',
  'OPTIONS',
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'MESSAGE',
  'INFO',
  'PRACK',
  'UPDATE',
  'REFER',
]);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

/** Gauges read from the store at scrape time, cached so a busy scraper cannot turn them into load. */
export interface StoreGauges {
  bindings(): Promise<number>;
  accounts(): Promise<number>;
  lockouts(): Promise<{ extensions: number; addresses: number }>;
}

export class Metrics {
  readonly registry = new client.Registry();

  readonly sipRequests = new FastCounter(
    'sipreg_sip_requests_total',
    'SIP requests received, by method and transport',
    ['method', 'transport'],
    this.registry,
  );
  readonly sipResponses = new FastCounter(
    'sipreg_sip_responses_total',
    'SIP responses sent, by status code',
    ['status'],
    this.registry,
  );
  readonly registrations = new FastCounter(
    'sipreg_registrations_total',
    'REGISTER outcomes: new, refreshed, removed bindings; challenged; rejected with a reason',
    ['outcome', 'reason'],
    this.registry,
  );
  readonly authFailures = new client.Counter({
    name: 'sipreg_auth_failures_total',
    help: 'Failed authentications by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly parseErrors = new client.Counter({
    name: 'sipreg_parse_errors_total',
    help: 'Messages that could not be parsed or failed validation, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly retransmissions = new client.Counter({
    name: 'sipreg_retransmissions_total',
    help: 'Retransmitted requests absorbed or answered from the transaction layer',
    registers: [this.registry],
  });
  readonly dropped = new client.Counter({
    name: 'sipreg_dropped_total',
    help: 'Requests dropped without a response, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new FastHistogram(
    'sipreg_request_duration_seconds',
    'Time from a request arriving to its response being sent',
    ['method'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    this.registry,
  );
  readonly storeDuration = new FastHistogram(
    'sipreg_store_operation_duration_seconds',
    'Store operation latency, by operation',
    ['operation', 'result'],
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
    this.registry,
  );
  readonly connections = new client.Gauge({
    name: 'sipreg_open_connections',
    help: 'Open TCP and TLS connections',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly connectionsRefused = new client.Counter({
    name: 'sipreg_connections_refused_total',
    help: 'Connections refused by a cap (total or per address)',
    labelNames: ['transport', 'cap'] as const,
    registers: [this.registry],
  });

  /** Slots of the per-message metrics, by label values (see ./fast-metrics.ts). */
  readonly requestsBy = (method: string, transport: string) => this.sipRequests.child(method, transport);
  readonly responsesBy = (status: string) => this.sipResponses.child(status);
  readonly registrationsBy = (outcome: string, reason: string) => this.registrations.child(outcome, reason);
  readonly durationBy = (method: string) => this.requestDuration.child(method);
  readonly storeDurationBy = (operation: string, result: string) => this.storeDuration.child(operation, result);

  constructor(gauges: StoreGauges | null, defaultMetrics = true) {
    if (defaultMetrics) client.collectDefaultMetrics({ register: this.registry, prefix: 'sipreg_' });
    if (gauges !== null) this.addStoreGauges(gauges);
  }

  private addStoreGauges(g: StoreGauges): void {
    const cached = <T>(read: () => Promise<T>, fallback: T, ttlMs = 5_000): (() => Promise<T>) => {
      let at = 0;
      let value = fallback;
      return async () => {
        if (Date.now() - at > ttlMs) {
          try {
            value = await read();
            at = Date.now();
          } catch {
            // The store is down: /healthz says so; the gauge keeps its last value.
          }
        }
        return value;
      };
    };
    const bindings = cached(() => g.bindings(), 0);
    const accounts = cached(() => g.accounts(), 0);
    const lockouts = cached(() => g.lockouts(), { extensions: 0, addresses: 0 });
    new client.Gauge({
      name: 'sipreg_bindings',
      help: 'Live bindings in the store',
      registers: [this.registry],
      async collect() {
        this.set(await bindings());
      },
    });
    new client.Gauge({
      name: 'sipreg_accounts',
      help: 'Accounts in the store',
      registers: [this.registry],
      async collect() {
        this.set(await accounts());
      },
    });
    new client.Gauge({
      name: 'sipreg_active_lockouts',
      help: 'Active lockouts by kind',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        const l = await lockouts();
        this.set({ kind: 'extension' }, l.extensions);
        this.set({ kind: 'address' }, l.addresses);
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
