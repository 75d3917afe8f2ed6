/**
 * The operators' web console at /console/ on the admin server: server-rendered pages with htmx for the updates, so
 * the browser holds no token and runs no code of ours but a few lines of static script (copying a password, keeping a
 * selection while the blacklist polls). Why htmx: a small operator UI over the same services as the API needs no
 * client-side state and no build step; the pages are escaped server templates (./html.ts), testable as HTML.
 *
 * Sign-in exchanges the admin token for a session (./sessions.ts): an HttpOnly, SameSite=Strict cookie (Secure when
 * served over TLS) with a bounded lifetime. Every change is a POST carrying the session's CSRF token in a header (or,
 * for sign-out, a form field). A missing, unknown or expired session gets the same 401. Served with a
 * Content-Security-Policy that allows scripts from this origin only (no 'unsafe-inline', no eval).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry } from '../../domain/types.js';
import { parseAccountInput, type AccountService } from '../../registrar/accounts.js';
import { OperatorError } from '../../registrar/errors.js';
import type { LockoutService } from '../../registrar/lockouts.js';
import type { Page } from '../../store/types.js';
import { accountJson, bindingJson, type FlowLiveness } from '../views.js';
import { html, type SafeHtml } from './html.js';
import {
  accountsPage,
  accountsTable,
  auditPage,
  blacklistPage,
  blacklistTables,
  confirmDelete,
  confirmLiftAll,
  confirmReset,
  devicesPage,
  errorBox,
  page,
  shownOnce,
  signInPage,
  type DeviceRow,
  type LockoutDetail,
} from './pages.js';
import { ConsoleSessions, type ConsoleSession } from './sessions.js';

export interface ConsoleDeps {
  accounts: AccountService;
  lockouts: LockoutService;
  audit: { list(limit: number, cursor: string | null): Promise<Page<AuditEntry>> };
  flowLive?: FlowLiveness;
  /** SHA-256 of the admin token. */
  tokenHash: Buffer;
  /** Set the cookie's Secure flag (the admin server is behind TLS). */
  secureCookie: boolean;
  sessionLifetimeMs?: number;
}

const COOKIE = 'sipreg_session';
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** Devices: bindings of at most this many accounts are read per page view (a bounded scan). */
const DEVICE_SCAN_ACCOUNTS = 2000;
const ACCOUNTS_PAGE = 50;

/** The static files live in the source tree (not compiled): three levels up from both src/ and dist/ is the root. */
const staticFile = (path: string): string =>
  readFileSync(new URL(`../../../src/admin/console/static/${path}`, import.meta.url), 'utf8');
const HTMX = readFileSync(createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'), 'utf8');

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
}

export async function registerConsole(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const sessions = new ConsoleSessions(deps.sessionLifetimeMs ?? 8 * 3600_000);
  const { accounts, lockouts } = deps;
  const assets: Record<string, [string, string]> = {
    'htmx.min.js': ['text/javascript; charset=utf-8', HTMX],
    'console.js': ['text/javascript; charset=utf-8', staticFile('console.js')],
    'console.css': ['text/css; charset=utf-8', staticFile('console.css')],
  };

  await app.register(async (scope) => {
    await scope.register(cookie);
    await scope.register(formbody);

    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('cache-control', 'no-store');
      return payload;
    });

    const htmlReply = (reply: FastifyReply, body: string | SafeHtml, status = 200) =>
      reply
        .code(status)
        .type('text/html; charset=utf-8')
        .send(typeof body === 'string' ? body : body.text);

    /** The signed-in session, or a 401 sent (the same for no cookie, an unknown one and an expired one). */
    const authed = (request: FastifyRequest, reply: FastifyReply, change: boolean): ConsoleSession | null => {
      const s = sessions.get(request.cookies[COOKIE], Date.now());
      const csrf = change
        ? (request.headers['x-csrf-token'] ?? (request.body as { csrf?: string } | undefined)?.csrf)
        : null;
      if (s === null || (change && !sameText(String(csrf ?? ''), s.csrf))) {
        void htmlReply(
          reply,
          signInPage(s === null ? null : 'Your session could not be verified: sign in again.'),
          401,
        );
        return null;
      }
      return s;
    };

    /** For a change: the services acting as the signed-in operator (audited under their session), or a 401 sent. */
    const acting = (request: FastifyRequest, reply: FastifyReply) => {
      const s = authed(request, reply, true);
      return s === null ? null : { accounts: accounts.as(s.label), lockouts: lockouts.as(s.label) };
    };

    scope.get('/console', async (_request, reply) => reply.redirect('/console/', 302));
    scope.get('/console/static/:file', async (request, reply) => {
      const a = assets[(request.params as { file: string }).file];
      if (a === undefined) return reply.code(404).send('not found');
      return reply.type(a[0]).header('cache-control', 'no-cache').send(a[1]);
    });

    scope.get('/console/', async (request, reply) => {
      const s = sessions.get(request.cookies[COOKIE], Date.now());
      if (s === null) return htmlReply(reply, signInPage(null));
      return reply.redirect('/console/blacklist', 303);
    });

    scope.post('/console/session', async (request, reply) => {
      const token = String((request.body as { token?: unknown } | undefined)?.token ?? '');
      const hash = createHash('sha256').update(token, 'utf8').digest();
      if (!timingSafeEqual(hash, deps.tokenHash)) return htmlReply(reply, signInPage('Wrong admin token.'), 401);
      const s = sessions.create(Date.now());
      void reply.setCookie(COOKIE, s.id, {
        path: '/console',
        httpOnly: true,
        sameSite: 'strict',
        secure: deps.secureCookie,
        maxAge: Math.floor(sessions.lifetimeMs / 1000),
      });
      return reply.redirect('/console/blacklist', 303);
    });

    scope.post('/console/signout', async (request, reply) => {
      const s = authed(request, reply, true);
      if (s === null) return reply;
      sessions.destroy(s.id);
      void reply.clearCookie(COOKIE, { path: '/console' });
      return reply.redirect('/console/', 303);
    });

    scope.get('/console/empty', async (request, reply) => {
      if (authed(request, reply, false) === null) return reply;
      return htmlReply(reply, '');
    });

    // ---- Blacklist ----
    const tables = async (q: string): Promise<SafeHtml> => {
      const list = await lockouts.list();
      return blacklistTables(list, await lockoutDetails(deps.audit), q);
    };
    scope.get('/console/blacklist', async (request, reply) => {
      const s = authed(request, reply, false);
      if (s === null) return reply;
      const q = query(request, 'q');
      return htmlReply(reply, page('Blacklist', s.csrf, blacklistPage(q, await tables(q))));
    });
    scope.get('/console/blacklist/tables', async (request, reply) => {
      if (authed(request, reply, false) === null) return reply;
      return htmlReply(reply, await tables(query(request, 'q')));
    });
    scope.get('/console/blacklist/confirm-all', async (request, reply) => {
      if (authed(request, reply, false) === null) return reply;
      return htmlReply(reply, confirmLiftAll());
    });
    scope.post('/console/blacklist/lift-all', async (request, reply) => {
      const operator = acting(request, reply);
      if (operator === null) return reply;
      await operator.lockouts.liftAll();
      return htmlReply(
        reply,
        html`${await tables('')}
          <div id="confirm" hx-swap-oob="true"></div>`,
      );
    });
    scope.post('/console/blacklist/extensions/:aor/lift', async (request, reply) => {
      const operator = acting(request, reply);
      if (operator === null) return reply;
      await ignoreNotLocked(() => operator.lockouts.liftExtension((request.params as { aor: string }).aor));
      return htmlReply(reply, await tables(''));
    });
    scope.post('/console/blacklist/addresses/:address/lift', async (request, reply) => {
      const operator = acting(request, reply);
      if (operator === null) return reply;
      await ignoreNotLocked(() => operator.lockouts.liftAddress((request.params as { address: string }).address));
      return htmlReply(reply, await tables(''));
    });
    scope.post('/console/blacklist/lift-selected', async (request, reply) => {
      const operator = acting(request, reply);
      if (operator === null) return reply;
      const raw = (request.body as { sel?: string | string[] } | undefined)?.sel ?? [];
      for (const sel of Array.isArray(raw) ? raw : [raw]) {
        if (sel.startsWith('ext:')) await ignoreNotLocked(() => operator.lockouts.liftExtension(sel.slice(4)));
        else if (sel.startsWith('addr:')) await ignoreNotLocked(() => operator.lockouts.liftAddress(sel.slice(5)));
      }
      return htmlReply(reply, await tables(''));
    });

    // ---- Accounts ----
    const accountList = async (q: string, cursor: string | null): Promise<SafeHtml> => {
      // Search: the accounts in AOR order whose AOR contains q, read page by page (bounded).
      const items = [];
      let next: string | null = cursor;
      for (let read = 0; read < 20 && items.length < ACCOUNTS_PAGE; read++) {
        const p = await accounts.list(ACCOUNTS_PAGE * 4, next);
        for (const a of p.items) {
          if (items.length < ACCOUNTS_PAGE && (q === '' || a.aor.includes(q))) items.push(a);
          if (items.length === ACCOUNTS_PAGE) {
            next = a.aor;
            break;
          }
        }
        if (items.length === ACCOUNTS_PAGE) break;
        next = p.nextCursor;
        if (next === null) break;
      }
      return accountsTable(items.map(accountJson), q, items.length === ACCOUNTS_PAGE ? next : null);
    };
    scope.get('/console/accounts', async (request, reply) => {
      const s = authed(request, reply, false);
      if (s === null) return reply;
      const q = query(request, 'q');
      return htmlReply(
        reply,
        page('Accounts', s.csrf, accountsPage(accounts.servedDomains, q, await accountList(q, null))),
      );
    });
    scope.get('/console/accounts/list', async (request, reply) => {
      if (authed(request, reply, false) === null) return reply;
      return htmlReply(reply, await accountList(query(request, 'q'), query(request, 'cursor') || null));
    });
    scope.post('/console/accounts', async (request, reply) => {
      const operator = acting(request, reply);
      if (operator === null) return reply;
      const f = (request.body ?? {}) as Record<string, string | string[] | undefined>;
      const one = (k: string): string | undefined => {
        const v = f[k];
        const s = Array.isArray(v) ? v[0] : v;
        return s === undefined || s.trim() === '' ? undefined : s.trim();
      };
      const algs = f.alg === undefined ? [] : Array.isArray(f.alg) ? f.alg : [f.alg];
      try {
        const input: Record<string, unknown> = { username: one('username') ?? '', domain: one('domain') };
        if (one('authId') !== undefined) input.authId = one('authId');
        if (one('password') !== undefined) input.password = one('password');
        if (one('ip') !== undefined) input.authType = 'ip';
        const addresses = one('allowedAddresses');
        if (addresses !== undefined) input.allowedAddresses = addresses.split(/[\s,]+/).filter(Boolean);
        if (algs.length > 0) input.algorithms = algs;
        if (one('maxContacts') !== undefined) input.maxContacts = Number(one('maxContacts'));
        const created = await operator.accounts.create(parseAccountInput(input));
        const shown =
          created.generatedPassword === undefined
            ? html`<p role="status">Account ${created.account.aor} created.</p>`
            : shownOnce(created.account.aor, created.generatedPassword, null);
        return htmlReply(
          reply,
          html`${shown}
            <div id="accounts" hx-swap-oob="true">${await accountList('', null)}</div>`,
        );
      } catch (e) {
        if (e instanceof OperatorError) return htmlReply(reply, errorBox(e.message));
        throw e;
      }
    });
    const aorParam = (request: FastifyRequest): string => (request.params as { aor: string }).aor;
    scope.get('/console/accounts/:aor/confirm-reset', async (request, reply) => {
      if (authed(request, reply, false) === null) return reply;
      return htmlReply(reply, confirmReset(aorParam(request)));
    });
    scope.get('/console/accounts/:aor/confirm-delete', async (request, reply) => {
      if (authed(request, reply, false) === null) return reply;
      return htmlReply(reply, confirmDelete(aorParam(request)));
    });
    scope.post('/console/accounts/:aor/password', async (request, reply) => {
      const operator = acting(request, reply);
      if (operator === null) return reply;
      try {
        const { account, generatedPassword } = await operator.accounts.setPassword(aorParam(request));
        return htmlReply(
          reply,
          html`${shownOnce(
              account.aor,
              generatedPassword ?? '',
              'Its phones were de-registered: they register again once they are given this password.',
            )}
            <div id="accounts" hx-swap-oob="true">${await accountList('', null)}</div>`,
        );
      } catch (e) {
        if (e instanceof OperatorError) return htmlReply(reply, errorBox(e.message));
        throw e;
      }
    });
    for (const action of ['enable', 'disable', 'delete'] as const) {
      scope.post(`/console/accounts/:aor/${action}`, async (request, reply) => {
        const operator = acting(request, reply);
        if (operator === null) return reply;
        const aor = aorParam(request);
        try {
          if (action === 'delete') await operator.accounts.remove(aor);
          else await operator.accounts.update(aor, { enabled: action === 'enable' });
        } catch (e) {
          if (e instanceof OperatorError) return htmlReply(reply, errorBox(e.message));
          throw e;
        }
        const list = await accountList(query(request, 'q'), null);
        return action === 'delete'
          ? htmlReply(
              reply,
              html`<p role="status">${aor} deleted.</p>
                <div id="accounts" hx-swap-oob="true">${list}</div>`,
            )
          : htmlReply(reply, list);
      });
    }

    // ---- Devices ----
    scope.get('/console/devices', async (request, reply) => {
      const s = authed(request, reply, false);
      if (s === null) return reply;
      const q = query(request, 'q').toLowerCase();
      const now = Date.now();
      const rows: DeviceRow[] = [];
      let cursor: string | null = null;
      let scanned = 0;
      do {
        const p = await accounts.list(500, cursor);
        for (const a of p.items) {
          const { bindings } = await accounts.bindings(a.aor, now);
          for (const b of bindings) {
            const view = bindingJson(b, now, deps.flowLive);
            const hay = `${a.aor} ${view.contact} ${view.sourceAddress} ${view.userAgent ?? ''}`.toLowerCase();
            if (q === '' || hay.includes(q)) rows.push({ aor: a.aor, binding: view });
          }
        }
        scanned += p.items.length;
        cursor = p.nextCursor;
      } while (cursor !== null && scanned < DEVICE_SCAN_ACCOUNTS);
      return htmlReply(reply, page('Devices', s.csrf, devicesPage(query(request, 'q'), rows, cursor !== null)));
    });

    // ---- Audit ----
    scope.get('/console/audit', async (request, reply) => {
      const s = authed(request, reply, false);
      if (s === null) return reply;
      const p = await deps.audit.list(100, query(request, 'cursor') || null);
      return htmlReply(reply, page('Audit', s.csrf, auditPage(p.items, p.nextCursor)));
    });
  });
}

/** A query-string value as text ('' when absent). */
function query(request: FastifyRequest, name: string): string {
  const v = (request.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

function sameText(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** A lockout lifted meanwhile (by another operator, or expired) is no error on a page that is a moment old. */
async function ignoreNotLocked(lift: () => Promise<void>): Promise<void> {
  try {
    await lift();
  } catch (e) {
    if (!(e instanceof OperatorError && e.kind === 'not-found')) throw e;
  }
}

/** The newest lockout event of each locked extension and address, from the audit trail: who tried, with what. */
async function lockoutDetails(audit: ConsoleDeps['audit']): Promise<Map<string, LockoutDetail>> {
  const out = new Map<string, LockoutDetail>();
  const p = await audit.list(500, null);
  for (const e of p.items) {
    if (e.action !== 'lockout.extension' && e.action !== 'lockout.address') continue;
    const key = `${e.action === 'lockout.extension' ? 'ext' : 'addr'}:${e.target}`;
    if (out.has(key)) continue;
    const d = e.detail;
    out.set(key, {
      username: typeof d.username === 'string' ? d.username : null,
      userAgent: typeof d.userAgent === 'string' ? d.userAgent : null,
      source: typeof d.source === 'string' ? d.source : null,
      at: new Date(e.at).toISOString(),
    });
  }
  return out;
}
