/**
 * The console's pages and fragments, rendered on the server (htmx swaps the fragments in). Pure functions of their
 * data: no I/O here. Every control has its accessible name (contract, "Web console"); everything from the network is
 * interpolated through `html`, so it is escaped text.
 */
import type { AuditEntry } from '../../domain/types.js';
import type { LockoutList } from '../../registrar/lockouts.js';
import type { AccountJson, BindingJson } from '../views.js';
import { html, type SafeHtml } from './html.js';

export type PageName = 'Blacklist' | 'Accounts' | 'Devices' | 'Audit';

const NAV: Array<[PageName, string]> = [
  ['Blacklist', '/console/blacklist'],
  ['Accounts', '/console/accounts'],
  ['Devices', '/console/devices'],
  ['Audit', '/console/audit'],
];

const when = (iso: string | null): SafeHtml =>
  iso === null ? html`–` : html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;

function shell(title: string, body: SafeHtml, head: SafeHtml = html``): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content='{"includeIndicatorStyles": false, "allowEval": false}' />
        <title>${title} · sipreg</title>
        <link rel="stylesheet" href="/console/static/console.css" />
        <script src="/console/static/htmx.min.js" defer></script>
        <script src="/console/static/console.js" defer></script>
        ${head}
      </head>
      ${body}
    </html>`.text;
}

export function signInPage(error: string | null): string {
  return shell(
    'Sign in',
    html`<body>
      <main class="signin">
        <h1>sipreg console</h1>
        <form method="post" action="/console/session">
          <label for="token">Admin token</label>
          <input id="token" name="token" type="password" autocomplete="off" required />
          <button type="submit">Sign in</button>
          ${error === null ? '' : html`<p class="error" role="alert">${error}</p>`}
        </form>
      </main>
    </body>`,
  );
}

/** A signed-in page: navigation, sign-out, and the CSRF token every htmx request sends back. */
export function page(current: PageName, csrf: string, content: SafeHtml): string {
  const headers = JSON.stringify({ 'X-CSRF-Token': csrf });
  return shell(
    current,
    html`<body hx-headers="${headers}">
      <header>
        <nav aria-label="Console">
          ${NAV.map(([name, href]) => html`<a href="${href}" ${name === current ? html`aria-current="page"` : ''}>${name}</a>`)}
        </nav>
        <form method="post" action="/console/signout">
          <input type="hidden" name="csrf" value="${csrf}" />
          <button type="submit">Sign out</button>
        </form>
      </header>
      <main id="main">${content}</main>
    </body>`,
  );
}

// ---- Blacklist ----

export interface LockoutDetail {
  username: string | null;
  userAgent: string | null;
  source: string | null;
  at: string | null;
}

/** A search box that re-renders `target` from `path` as the operator types (htmx, 300 ms after the last key). */
function liveSearch(q: string, label: string, placeholder: string, path: string, target: string): SafeHtml {
  return html`<input
    type="search"
    name="q"
    value="${q}"
    aria-label="${label}"
    placeholder="${placeholder}"
    hx-get="${path}"
    hx-trigger="input changed delay:300ms, search"
    hx-target="${target}"
  />`;
}

export function blacklistPage(q: string, tables: SafeHtml): SafeHtml {
  return html`<h1>Blacklist</h1>
    <div class="toolbar">
      ${liveSearch(q, 'Search lockouts', 'Search extension or address', '/console/blacklist/tables', '#tables')}
      <button type="button" hx-get="/console/blacklist/confirm-all" hx-target="#confirm">Lift all</button>
      <button type="button" hx-post="/console/blacklist/lift-selected" hx-include="[name=sel]" hx-target="#tables">
        Lift selected
      </button>
      <div id="confirm" aria-live="polite"></div>
    </div>
    <div
      id="tables"
      hx-get="/console/blacklist/tables"
      hx-trigger="every 3s"
      hx-include="[name=q]"
      data-poll="keep-selection"
    >
      ${tables}
    </div>`;
}

export function confirmLiftAll(): SafeHtml {
  return html`<p role="alert">Lift every lockout, extensions and addresses?</p>
    <button type="button" hx-post="/console/blacklist/lift-all" hx-target="#tables">Confirm</button>
    <button type="button" hx-get="/console/empty" hx-target="#confirm">Cancel</button>`;
}

/** One row of a lockout table, whatever is locked (an extension or an address). */
interface LockoutRow {
  /** What is locked: the AOR or the address. */
  name: string;
  /** `ext:<aor>` or `addr:<address>`: the selection value and the details' key. */
  key: string;
  liftPath: string;
  failures: number;
  /** Sources seen (extension) or extensions tried (address), newest first. */
  seen: readonly string[];
  firstFailure: string | null;
  lastFailure: string | null;
  lockedUntil: string | null;
  permanent: boolean;
  level: number;
}

/** The columns of both lockout tables, in order; each row gives one cell for each. */
const LOCKOUT_COLUMNS = (what: string, seen: string): string[] => [
  what,
  'Failures',
  seen,
  'First failure',
  'Last failure',
  'Username tried',
  'User agent',
  'Locked at',
  'Locked until',
  'Level',
];

function lockoutTable(
  id: string,
  title: string,
  columns: string[],
  rows: LockoutRow[],
  details: Map<string, LockoutDetail>,
  empty: string,
): SafeHtml {
  const tried = (key: string): SafeHtml => {
    const d = details.get(key);
    return d === undefined
      ? html`<td>–</td>
          <td>–</td>
          <td>–</td>`
      : html`<td>${d.username ?? '–'}</td>
          <td class="ua">${d.userAgent ?? '–'}</td>
          <td>${when(d.at)}</td>`;
  };
  return html`<section aria-labelledby="${id}">
    <h2 id="${id}">${title}</h2>
    <table>
      <thead>
        <tr>
          <th scope="col"><span class="sr">Select</span></th>
          ${columns.map((c) => html`<th scope="col">${c}</th>`)}
          <th scope="col"><span class="sr">Action</span></th>
        </tr>
      </thead>
      <tbody>
        ${
          rows.length === 0
            ? html`<tr>
                <td colspan="${columns.length + 2}">${empty}</td>
              </tr>`
            : ''
        }
        ${rows.map(
          (r) =>
            html`<tr>
              <td><input type="checkbox" name="sel" value="${r.key}" aria-label="Select ${r.name}" /></td>
              <td>${r.name}</td>
              <td>${r.failures}</td>
              <td>${r.seen.length > 0 ? r.seen.join(', ') : '–'}</td>
              <td>${when(r.firstFailure)}</td>
              <td>${when(r.lastFailure)}</td>
              ${tried(r.key)}
              <td>${r.permanent ? html`permanent` : when(r.lockedUntil)}</td>
              <td>${r.level}</td>
              <td>
                <button type="button" hx-post="${r.liftPath}" hx-target="#tables">Lift</button>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

export function blacklistTables(list: LockoutList, details: Map<string, LockoutDetail>, q: string): SafeHtml {
  const match = (s: string): boolean => q === '' || s.toLowerCase().includes(q.toLowerCase());
  const extensions: LockoutRow[] = list.extensions
    .filter((e) => match(e.aor))
    .map((e) => ({
      name: e.aor,
      key: `ext:${e.aor}`,
      liftPath: `/console/blacklist/extensions/${encodeURIComponent(e.aor)}/lift`,
      failures: e.failures,
      seen: e.sources.length > 0 ? e.sources : e.lastAddress === null ? [] : [e.lastAddress],
      firstFailure: e.firstFailure,
      lastFailure: e.lastFailure,
      lockedUntil: e.lockedUntil,
      permanent: e.permanent,
      level: e.level,
    }));
  const addresses: LockoutRow[] = list.addresses
    .filter((a) => match(a.address))
    .map((a) => ({
      name: a.address,
      key: `addr:${a.address}`,
      liftPath: `/console/blacklist/addresses/${encodeURIComponent(a.address)}/lift`,
      failures: a.failures,
      seen: a.aors,
      firstFailure: a.firstFailure,
      lastFailure: a.lastFailure,
      lockedUntil: a.lockedUntil,
      permanent: a.permanent,
      level: a.level,
    }));
  return html`${lockoutTable(
    'h-ext',
    'Blacklisted extensions',
    LOCKOUT_COLUMNS('Extension', 'Sources seen'),
    extensions,
    details,
    'No locked extensions.',
  )}
  ${lockoutTable(
    'h-addr',
    'Blacklisted addresses',
    LOCKOUT_COLUMNS('Address', 'Extensions tried'),
    addresses,
    details,
    'No locked addresses.',
  )}`;
}

// ---- Accounts ----

export function accountsPage(domains: readonly string[], q: string, list: SafeHtml): SafeHtml {
  return html`<h1>Accounts</h1>
    <details>
      <summary>Create account</summary>
      <form hx-post="/console/accounts" hx-target="#created">
        <label>Username <input name="username" required /></label>
        <label
          >Domain
          <select name="domain">
            ${domains.map((d) => html`<option>${d}</option>`)}
          </select></label
        >
        <label>Auth ID <input name="authId" placeholder="the username" /></label>
        <label
          >Password
          <input name="password" type="password" autocomplete="new-password" placeholder="leave empty to generate"
        /></label>
        <label><input type="checkbox" name="ip" value="1" /> IP authentication</label>
        <label>Allowed addresses <input name="allowedAddresses" placeholder="192.0.2.10, 198.51.100.0/24" /></label>
        <fieldset>
          <legend>Algorithms</legend>
          <label><input type="checkbox" name="alg" value="MD5" /> MD5</label>
          <label><input type="checkbox" name="alg" value="SHA-256" /> SHA-256</label>
          <label><input type="checkbox" name="alg" value="SHA-512-256" /> SHA-512-256</label>
        </fieldset>
        <label>Max contacts <input name="maxContacts" type="number" min="1" max="100" /></label>
        <button type="submit">Create</button>
      </form>
    </details>
    <div id="created" aria-live="polite"></div>
    ${liveSearch(q, 'Search accounts', 'Search accounts', '/console/accounts/list', '#accounts')}
    <div id="accounts">${list}</div>`;
}

/** A password shown this once, with a copy button. */
export function shownOnce(aor: string, password: string, warning: string | null): SafeHtml {
  return html`<div class="once" role="status">
    <p>Password of <strong>${aor}</strong>, shown once:</p>
    <output id="once-password">${password}</output>
    <button type="button" data-copy="#once-password">Copy password</button>
    ${warning === null ? '' : html`<p class="warning">${warning}</p>`}
  </div>`;
}

export function errorBox(message: string): SafeHtml {
  return html`<p class="error" role="alert">${message}</p>`;
}

export function accountsTable(items: readonly AccountJson[], q: string, next: string | null): SafeHtml {
  return html`<table>
      <thead>
        <tr>
          <th scope="col">Account</th>
          <th scope="col">Auth</th>
          <th scope="col">State</th>
          <th scope="col">Password changed</th>
          <th scope="col">Stale device</th>
          <th scope="col"><span class="sr">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${
          items.length === 0
            ? html`<tr>
                <td colspan="6">No accounts.</td>
              </tr>`
            : ''
        }
        ${items.map((a) => {
          const id = encodeURIComponent(a.aor);
          return html`<tr id="acct-${id}">
            <td>${a.aor}</td>
            <td>${a.authType === 'ip' ? `IP: ${a.allowedAddresses.join(', ')}` : `digest (${a.authId})`}</td>
            <td>${a.enabled ? 'enabled' : 'disabled'}</td>
            <td>${when(a.passwordChangedAt)}</td>
            <td>
              ${
                a.staleDevice === null
                  ? '–'
                  : html`${a.staleDevice.address} (${a.staleDevice.userAgent ?? 'no user agent'}) at
                    ${when(a.staleDevice.seenAt)}`
              }
            </td>
            <td class="actions">
              ${
                a.authType === 'digest'
                  ? html`<button type="button" hx-get="/console/accounts/${id}/confirm-reset" hx-target="#created">
                      Reset password for ${a.aor}
                    </button>`
                  : ''
              }
              <button
                type="button"
                hx-post="/console/accounts/${id}/${a.enabled ? 'disable' : 'enable'}"
                hx-target="#accounts"
                hx-include="[name=q]"
              >
                ${a.enabled ? 'Disable' : 'Enable'} ${a.aor}
              </button>
              <button type="button" hx-get="/console/accounts/${id}/confirm-delete" hx-target="#created">
                Delete ${a.aor}
              </button>
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${
      next === null
        ? ''
        : html`<button
            type="button"
            hx-get="/console/accounts/list?q=${encodeURIComponent(q)}&cursor=${encodeURIComponent(next)}"
            hx-target="#accounts"
          >
            Next page
          </button>`
    }`;
}

export function confirmReset(aor: string): SafeHtml {
  const id = encodeURIComponent(aor);
  return html`<div role="alert">
    <p>Reset the password of <strong>${aor}</strong>?</p>
    <p class="warning">
      Its phones are de-registered at once and stay unregistered until they are given the new password.
    </p>
    <button type="button" hx-post="/console/accounts/${id}/password" hx-target="#created">Confirm</button>
    <button type="button" hx-get="/console/empty" hx-target="#created">Cancel</button>
  </div>`;
}

export function confirmDelete(aor: string): SafeHtml {
  const id = encodeURIComponent(aor);
  return html`<div role="alert">
    <p>Delete <strong>${aor}</strong> and its bindings?</p>
    <button type="button" hx-post="/console/accounts/${id}/delete" hx-target="#created">Confirm</button>
    <button type="button" hx-get="/console/empty" hx-target="#created">Cancel</button>
  </div>`;
}

// ---- Devices ----

export interface DeviceRow {
  readonly aor: string;
  readonly binding: BindingJson;
}

export function devicesPage(q: string, rows: readonly DeviceRow[], truncated: boolean): SafeHtml {
  return html`<h1>Devices</h1>
    <form method="get" action="/console/devices">
      <input
        type="search"
        name="q"
        value="${q}"
        aria-label="Search devices"
        placeholder="Account, address or user agent"
      />
      <button type="submit">Search</button>
    </form>
    <table>
      <thead>
        <tr>
          <th scope="col">Account</th>
          <th scope="col">Contact</th>
          <th scope="col">User agent</th>
          <th scope="col">Source</th>
          <th scope="col">Transport</th>
          <th scope="col">Flow</th>
          <th scope="col">Seconds left</th>
          <th scope="col">First registered</th>
          <th scope="col">Last refreshed</th>
        </tr>
      </thead>
      <tbody>
        ${
          rows.length === 0
            ? html`<tr>
                <td colspan="9">No live bindings.</td>
              </tr>`
            : ''
        }
        ${rows.map(
          ({ aor, binding: b }) =>
            html`<tr>
              <td>${aor}</td>
              <td>${b.contact}</td>
              <td class="ua">${b.userAgent ?? '–'}</td>
              <td>${b.sourceAddress}:${b.sourcePort}</td>
              <td>${b.transport}</td>
              <td>
                ${b.flow === null ? '–' : b.flow.live === null ? 'held elsewhere' : b.flow.live ? 'live' : 'closed'}
              </td>
              <td>${b.expires}</td>
              <td>${when(b.registeredAt)}</td>
              <td>${when(b.updatedAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${truncated ? html`<p>Only the first accounts were read; narrow the search.</p>` : ''}`;
}

// ---- Audit ----

export function auditPage(entries: readonly AuditEntry[], next: string | null): SafeHtml {
  return html`<h1>Audit</h1>
    <table>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Who</th>
          <th scope="col">What</th>
          <th scope="col">Target</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        ${
          entries.length === 0
            ? html`<tr>
                <td colspan="5">Nothing recorded yet.</td>
              </tr>`
            : ''
        }
        ${entries.map(
          (e) =>
            html`<tr>
              <td>${when(new Date(e.at).toISOString())}</td>
              <td>${e.actor}</td>
              <td>${e.action}</td>
              <td>${e.target}</td>
              <td class="detail">
                ${Object.entries(e.detail)
                  .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
                  .join(' ')}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${next === null ? '' : html`<a href="/console/audit?cursor=${encodeURIComponent(next)}">Older entries</a>`}`;
}
