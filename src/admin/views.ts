/**
 * What the admin API shows of the domain objects: explicit field lists (so a secret added to a store type later can
 * never leak by accident) and ISO-8601 times for people. The shapes are the response schemas of ./schemas.ts.
 */
import type { Static } from '@sinclair/typebox';
import type { AuditEntry, Account, Binding } from '../domain/types.js';
import type { accountView, bindingView } from './schemas.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export type AccountJson = Static<typeof accountView>;

export function accountJson(a: Account): AccountJson {
  return {
    aor: a.aor,
    username: a.username,
    domain: a.domain,
    authId: a.authId,
    authType: a.authType,
    allowedAddresses: [...a.allowedAddresses],
    enabled: a.enabled,
    maxContacts: a.maxContacts,
    algorithms: a.algorithms === null ? null : [...a.algorithms],
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
    passwordChangedAt: a.passwordChangedAt === null ? null : iso(a.passwordChangedAt),
    staleDevice:
      a.staleDevice === null
        ? null
        : {
            address: a.staleDevice.address,
            seenAt: iso(a.staleDevice.seenAt),
            userAgent: a.staleDevice.userAgent ?? null,
          },
  };
}

export type BindingJson = Static<typeof bindingView>;

/** Whether a binding's connection is open: null when this process cannot tell. */
export type FlowLiveness = (b: Binding) => boolean | null;

export function bindingJson(b: Binding, now: number, live: FlowLiveness = () => null): BindingJson {
  return {
    contact: b.uri,
    params: b.params,
    expires: Math.max(0, Math.ceil((b.expiresAt - now) / 1000)),
    expiresAt: iso(b.expiresAt),
    q: b.q,
    sourceAddress: b.source.address,
    sourcePort: b.source.port,
    transport: b.source.transport,
    userAgent: b.userAgent,
    path: [...b.path],
    instance: b.instance,
    regId: b.regId,
    callId: b.callId,
    cseq: b.cseq,
    registeredAt: iso(b.registeredAt),
    updatedAt: iso(b.updatedAt),
    flow:
      b.source.connectionId === null
        ? null
        : { connectionId: b.source.connectionId, node: b.source.node, live: live(b) },
  };
}

export interface AuditJson {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  [detail: string]: unknown;
}

/** An audit entry as the API shows it: the contract's at, actor, action, target, then the detail's fields. */
export function auditJson(e: AuditEntry): AuditJson {
  return { ...e.detail, id: e.id, at: iso(e.at), actor: e.actor, action: e.action, target: e.target };
}
