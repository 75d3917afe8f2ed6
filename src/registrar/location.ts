/** The location service view of the bindings (RFC 3261 10, 16.5): who to try, best first. */
import type { Binding } from '../domain/types.js';
import type { Store } from '../store/types.js';

export interface LocatedContact {
  readonly uri: string;
  /** How to reach it: over UDP, or over the connection (flow) the binding came on (RFC 5626, RFC 7118). */
  readonly transport: Binding['source']['transport'];
  /** Whether that connection is open; null without one, or when another instance holds it. */
  readonly flowLive: boolean | null;
  readonly q: number | null;
  readonly expiresAt: number;
  readonly path: readonly string[];
  readonly binding: Binding;
}

/**
 * Live contacts of an AOR ordered by q, highest first (RFC 3261 16.6: a contact without q ranks as 1.0 here, the
 * usual reading), then the most recently refreshed first.
 */
export async function lookup(
  store: Store,
  aor: string,
  now: number,
  flowLive: (b: Binding) => boolean | null = () => null,
): Promise<LocatedContact[]> {
  const bindings = await store.getBindings(aor, now);
  return orderByQ(bindings.filter((b) => b.expiresAt > now)).map((b) => ({
    uri: b.uri,
    transport: b.source.transport,
    flowLive: flowLive(b),
    q: b.q,
    expiresAt: b.expiresAt,
    path: b.path,
    binding: b,
  }));
}

export function orderByQ(bindings: readonly Binding[]): Binding[] {
  return [...bindings].sort((a, b) => (b.q ?? 1) - (a.q ?? 1) || b.updatedAt - a.updatedAt);
}
