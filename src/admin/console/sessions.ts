/**
 * Console sessions: the admin token is exchanged once for a random session id, kept in an HttpOnly cookie; the token
 * itself never reaches the browser's storage or a URL. Sessions live in this process (the admin API runs in one
 * process per instance) and end at sign-out or after their lifetime. Each carries a CSRF token that every change
 * must send back in a header.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface ConsoleSession {
  readonly id: string;
  readonly csrf: string;
  /** For the audit trail: a label derived from the id, never the id itself. */
  readonly label: string;
  readonly expiresAt: number;
}

const MAX_SESSIONS = 1000;

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(readonly lifetimeMs: number) {}

  create(now: number): ConsoleSession {
    this.prune(now);
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const label = `console:${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
    const s: ConsoleSession = {
      id,
      csrf: randomBytes(24).toString('base64url'),
      label,
      expiresAt: now + this.lifetimeMs,
    };
    this.sessions.set(id, s);
    return s;
  }

  get(id: string | undefined, now: number): ConsoleSession | null {
    if (id === undefined) return null;
    const s = this.sessions.get(id);
    if (s === undefined) return null;
    if (s.expiresAt <= now) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  private prune(now: number): void {
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}
