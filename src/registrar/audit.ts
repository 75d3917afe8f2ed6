/**
 * The audit trail: every operator action (API, CLI, console) and every lockout the registrar decides, kept in the
 * store with bounded retention and logged. Who acted comes from the request being served (actorContext, set by the
 * admin edge), so the services record it without every method carrying it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { AuditEntry } from '../domain/types.js';
import type { Store } from '../store/types.js';

/** Who is acting in the current async context; 'system' outside any request. */
export const actorContext = new AsyncLocalStorage<string>();

export const AUDIT_RETENTION = 10_000;

type Detail = AuditEntry['detail'];

export class AuditTrail {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly keep = AUDIT_RETENTION,
  ) {}

  /** Records one entry; a store that does not answer loses the entry, never the action (it is logged either way). */
  async record(action: string, target: string, now: number, detail: Detail = {}, actor?: string): Promise<void> {
    const who = actor ?? actorContext.getStore() ?? 'system';
    // `who`/`what` kept as the log's field names (dashboards read them); never a secret in detail.
    this.logger.info({ who, what: action, target, at: new Date(now).toISOString(), ...detail }, action);
    try {
      await this.store.appendAudit({ at: now, actor: who, action, target, detail }, this.keep);
    } catch (err) {
      this.logger.warn({ err, event: 'audit-append-failed', action }, 'audit entry not stored');
    }
  }
}
