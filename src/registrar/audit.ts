/**
 * The audit trail: every operator action (API, CLI, console) and every lockout the registrar decides, kept in the
 * store with bounded retention and logged. Who acted is named by the caller: the operator services take it from the
 * edge that serves the request (`service.as(actor)`), the registrar acts as 'system'. Not an AsyncLocalStorage: on
 * Node 20 one enables a hook on every promise of the process, SIP included (about 5 % of a registration's CPU).
 */
import type { Logger } from 'pino';
import type { AuditEntry } from '../domain/types.js';
import type { Store } from '../store/types.js';

export const AUDIT_RETENTION = 10_000;

type Detail = AuditEntry['detail'];

/** An operator service: its changes are audited under the name of whoever acts through it, 'system' by default. */
export abstract class Audited {
  protected actor = 'system';

  protected constructor(private readonly trail: AuditTrail) {}

  /** The same service acting for `actor` (the API, the CLI, a console user): a view, nothing is copied. */
  as(actor: string): this {
    const view = Object.create(this) as this;
    view.actor = actor;
    return view;
  }

  /** Records an action of whoever acts through this view (never awaited: the trail loses an entry, not the action). */
  protected record(action: string, target: string, now: number, detail: Detail): void {
    void this.trail.record(action, target, now, detail, this.actor);
  }
}

export class AuditTrail {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly keep = AUDIT_RETENTION,
  ) {}

  /** Records one entry; a store that does not answer loses the entry, never the action (it is logged either way). */
  async record(action: string, target: string, now: number, detail: Detail = {}, who = 'system'): Promise<void> {
    // `who`/`what` kept as the log's field names (dashboards read them); never a secret in detail.
    this.logger.info({ who, what: action, target, at: new Date(now).toISOString(), ...detail }, action);
    try {
      await this.store.appendAudit({ at: now, actor: who, action, target, detail }, this.keep);
    } catch (err) {
      this.logger.warn({ err, event: 'audit-append-failed', action }, 'audit entry not stored');
    }
  }
}
