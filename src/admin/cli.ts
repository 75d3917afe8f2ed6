/**
 * `sipreg`: the operator's command line over the admin HTTP API.
 *
 * Exit codes: 0 ok, 1 the API refused (its error message is printed), 2 usage, 3 server unreachable, 4 unauthorized.
 * Tables for people, `--json` for scripts. The token comes from ADMIN_TOKEN only (never an argument: argv is visible
 * to every user of the machine).
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { csvToNdjson, detectFormat, ImportFileError, jsonlToNdjson, type ImportLines } from './csv.js';
import type { AccountJson } from './views.js';

type Out = (s: string) => void;

export const EXIT = { ok: 0, api: 1, usage: 2, unreachable: 3, unauthorized: 4 } as const;

class CliError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const usageError = (message: string): CliError => new CliError(EXIT.usage, `${message} (see --help)`);

const HELP: Record<string, string> = {
  '': `sipreg: administer the sipreg SIP registrar through its admin API

usage: sipreg <group> <verb> [arguments] [--json] [--url URL]

groups:
  accounts    add | import | list | show | passwd | disable | enable | rm
  bindings    list | clear AOR
  blacklist   list | clear (--extension AOR | --address IP | --all)

environment:
  SIPREG_URL    admin API base URL (default http://127.0.0.1:8080)
  ADMIN_TOKEN   bearer token of the admin API

An AOR is user@domain, or a bare user in the registrar's default domain.
exit codes: 0 ok, 1 API error, 2 usage, 3 server unreachable, 4 unauthorized
Run 'sipreg <group> --help' or 'sipreg <group> <verb> --help' for more.`,
  accounts: `usage: sipreg accounts <verb> ...

  add USER            create an account (a password is generated and shown once unless --password is given)
  import FILE         bulk create from CSV (header row) or JSONL
  list                list accounts
  show AOR            show one account (never its secret)
  passwd AOR          set a new password (generated unless --password); removes the account's bindings
  disable AOR         disable (removes the bindings); enable AOR: enable again
  rm AOR              delete the account and its bindings`,
  'accounts add': `usage: sipreg accounts add USER [options]

  --domain D            domain (default: the registrar's default domain)
  --auth-id ID          digest username if not USER
  --password P          password to set (default: generate one, shown once)
  --ip ADDR             authenticate by source address instead of password; repeat for several (IP or CIDR)
  --max-contacts N      bindings allowed at once (1..100)
  --algorithms LIST     challenge order, e.g. SHA-256,MD5
  --disabled            create disabled
  --json                print the API response as JSON`,
  'accounts import': `usage: sipreg accounts import FILE [--format csv|jsonl] [--json]

CSV needs a header row naming the columns, any of:
  username,domain,authId,password,authType,allowedAddresses,enabled,maxContacts,algorithms
(lists inside a cell are separated by ';' or spaces). JSONL: one JSON account object per line.
Lines without a password get a generated one, printed once. Exit code 1 when any line failed.`,
  'accounts list': `usage: sipreg accounts list [--limit N] [--cursor AOR] [--all] [--json]

  --limit N     page size (1..1000, default 100)
  --cursor AOR  start after this AOR (the nextCursor of the previous page)
  --all         follow every page`,
  'accounts show': 'usage: sipreg accounts show AOR [--json]',
  'accounts passwd': `usage: sipreg accounts passwd AOR [--password P] [--json]

Sets the password (generated and shown once unless --password is given). Every binding of the account is removed:
the phone must be given the new password before it can register again.`,
  'accounts disable': 'usage: sipreg accounts disable AOR [--json]\n\nDisables the account and removes its bindings.',
  'accounts enable': 'usage: sipreg accounts enable AOR [--json]',
  'accounts rm': 'usage: sipreg accounts rm AOR [--json]\n\nDeletes the account, its bindings and its lockout.',
  bindings: `usage: sipreg bindings <verb> AOR

  list AOR    current bindings (contact, expires, source, transport, user agent)
  clear AOR   remove every binding of the AOR`,
  'bindings list': 'usage: sipreg bindings list AOR [--json]',
  'bindings clear': 'usage: sipreg bindings clear AOR [--json]',
  blacklist: `usage: sipreg blacklist <verb>

  list                                          locked extensions and addresses
  clear (--extension AOR | --address IP | --all)  lift a lockout (and reset its counter), or all of them`,
  'blacklist list': 'usage: sipreg blacklist list [--json]',
  'blacklist clear': `usage: sipreg blacklist clear (--extension AOR | --address IP | --all) [--json]`,
};

const VERBS: Record<string, string[]> = {
  accounts: ['add', 'import', 'list', 'show', 'passwd', 'disable', 'enable', 'rm'],
  bindings: ['list', 'clear'],
  blacklist: ['list', 'clear'],
};

type Options = NonNullable<ParseArgsConfig['options']>;
const COMMON: Options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
};
const VERB_OPTIONS: Record<string, Options> = {
  'accounts add': {
    domain: { type: 'string' },
    'auth-id': { type: 'string' },
    password: { type: 'string' },
    ip: { type: 'string', multiple: true },
    'max-contacts': { type: 'string' },
    algorithms: { type: 'string' },
    disabled: { type: 'boolean' },
  },
  'accounts import': { format: { type: 'string' } },
  'accounts list': { limit: { type: 'string' }, cursor: { type: 'string' }, all: { type: 'boolean' } },
  'accounts passwd': { password: { type: 'string' } },
  'blacklist clear': { extension: { type: 'string' }, address: { type: 'string' }, all: { type: 'boolean' } },
};
/** How many positional arguments each verb takes. */
const POSITIONALS: Record<string, string[]> = {
  'accounts add': ['USER'],
  'accounts import': ['FILE'],
  'accounts list': [],
  'accounts show': ['AOR'],
  'accounts passwd': ['AOR'],
  'accounts disable': ['AOR'],
  'accounts enable': ['AOR'],
  'accounts rm': ['AOR'],
  'bindings list': ['AOR'],
  'bindings clear': ['AOR'],
  'blacklist list': [],
  'blacklist clear': [],
};

interface Api {
  call(
    method: string,
    path: string,
    body?: unknown,
    opts?: { contentType?: string; timeoutMs?: number },
  ): Promise<unknown>;
}

function makeApi(baseUrl: string, token: string | undefined): Api {
  return {
    async call(method, path, body, opts = {}) {
      if (token === undefined || token === '') {
        throw new CliError(
          EXIT.unauthorized,
          'ADMIN_TOKEN is not set: export the admin API token the registrar printed at start',
        );
      }
      const url = `${baseUrl.replace(/\/+$/, '')}${path}`;
      const headers: Record<string, string> = {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        'user-agent': 'sipreg-cli', // the audit trail's actor: `cli`
      };
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] = opts.contentType ?? 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: payload,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
        });
      } catch (err) {
        throw new CliError(
          EXIT.unreachable,
          `cannot reach the sipreg admin API at ${baseUrl}: ${describeFetchError(err)}`,
        );
      }
      const text = await response.text();
      let json: unknown = undefined;
      if (text !== '') {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      if (response.ok) return json;
      const message =
        typeof json === 'object' && json !== null && typeof (json as { error?: unknown }).error === 'string'
          ? (json as { error: string }).error
          : `HTTP ${response.status}`;
      if (response.status === 401) {
        throw new CliError(EXIT.unauthorized, `unauthorized: ${message} (check ADMIN_TOKEN for ${baseUrl})`);
      }
      throw new CliError(EXIT.api, message);
    },
  };
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'no answer in time';
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) return (cause as { code?: string }).code ?? cause.message;
    return err.message;
  }
  return String(err);
}

/** Fixed-width columns for people. */
export function table(headers: string[], rows: Array<Array<string | number | null>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

const path = (...parts: string[]): string => parts.map((p) => encodeURIComponent(p)).join('/');

function showAccount(a: AccountJson): string {
  const rows: Array<[string, string]> = [
    ['aor', a.aor],
    ['auth id', a.authId],
    ['auth type', a.authType],
    ['enabled', a.enabled ? 'yes' : 'no'],
    ['allowed addresses', a.allowedAddresses.length > 0 ? a.allowedAddresses.join(', ') : '-'],
    ['max contacts', a.maxContacts === null ? 'default' : String(a.maxContacts)],
    ['algorithms', a.algorithms === null ? 'default' : a.algorithms.join(', ')],
    ['created', a.createdAt],
    ['updated', a.updatedAt],
    ['password changed', a.passwordChangedAt ?? '-'],
  ];
  if (a.staleDevice !== null) {
    const ua = a.staleDevice.userAgent ? `, ${a.staleDevice.userAgent}` : '';
    rows.push(['stale device', `${a.staleDevice.address}${ua} (old password, seen ${a.staleDevice.seenAt})`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}`).join('\n');
}

const accountRow = (a: AccountJson): Array<string | number | null> => [
  a.aor,
  a.authType,
  a.enabled ? 'yes' : 'no',
  a.maxContacts ?? 'default',
  a.algorithms === null ? 'default' : a.algorithms.join(','),
  a.passwordChangedAt,
];
const ACCOUNT_HEADERS = ['AOR', 'AUTH', 'ENABLED', 'MAX CONTACTS', 'ALGORITHMS', 'PASSWORD CHANGED'];

const passwordNotice = (aor: string, password: string): string =>
  `password for ${aor}: ${password}\n(shown once: it cannot be retrieved later, only replaced)`;

interface Invocation {
  command: string;
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  json: boolean;
  api: Api;
  out: Out;
}

async function run(inv: Invocation): Promise<number> {
  const { command, positionals, values, json, api, out } = inv;
  const arg = positionals[0] as string;
  const print = (data: unknown, human: () => string): void => out(json ? JSON.stringify(data, null, 2) : human());

  switch (command) {
    case 'accounts add': {
      const body: Record<string, unknown> = { username: arg };
      if (values.domain !== undefined) body.domain = values.domain;
      if (values['auth-id'] !== undefined) body.authId = values['auth-id'];
      if (values.password !== undefined) body.password = values.password;
      if (values.ip !== undefined) {
        body.authType = 'ip';
        body.allowedAddresses = values.ip;
      }
      if (values['max-contacts'] !== undefined) body.maxContacts = toInteger('--max-contacts', values['max-contacts']);
      if (values.algorithms !== undefined)
        body.algorithms = String(values.algorithms)
          .split(/[,\s]+/)
          .filter(Boolean);
      if (values.disabled === true) body.enabled = false;
      const res = (await api.call('POST', '/api/v1/accounts', body)) as { account: AccountJson; password?: string };
      print(res, () =>
        [
          `created ${res.account.aor}`,
          ...(res.password === undefined ? [] : [passwordNotice(res.account.aor, res.password)]),
        ].join('\n'),
      );
      return EXIT.ok;
    }
    case 'accounts import': {
      let text: string;
      try {
        text = await readFile(arg, 'utf8');
      } catch (err) {
        throw usageError(`cannot read ${arg}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const format = values.format ?? detectFormat(arg, text);
      if (format !== 'csv' && format !== 'jsonl') throw usageError('--format must be csv or jsonl');
      let lines: ImportLines;
      try {
        lines = format === 'csv' ? csvToNdjson(text) : jsonlToNdjson(text);
      } catch (err) {
        if (err instanceof ImportFileError) throw usageError(`${arg}: ${err.message}`);
        throw err;
      }
      const res = (await api.call('POST', '/api/v1/accounts/import', lines.ndjson, {
        contentType: 'application/x-ndjson',
        timeoutMs: 15 * 60_000,
      })) as {
        created: number;
        errors: Array<{ line: number; error: string }>;
        passwords: Array<{ line: number; aor: string; password: string }>;
      };
      const fileLine = (n: number): number => lines.sourceLines[n - 1] ?? n;
      const mapped = {
        created: res.created,
        errors: res.errors.map((e) => ({ line: fileLine(e.line), error: e.error })),
        passwords: res.passwords.map((p) => ({ line: fileLine(p.line), aor: p.aor, password: p.password })),
      };
      print(mapped, () => {
        const parts = [`created ${mapped.created}, failed ${mapped.errors.length}`];
        for (const e of mapped.errors) parts.push(`${arg}:${e.line}: ${e.error}`);
        if (mapped.passwords.length > 0) {
          parts.push(
            '',
            'generated passwords (shown once):',
            table(
              ['LINE', 'AOR', 'PASSWORD'],
              mapped.passwords.map((p) => [p.line, p.aor, p.password]),
            ),
          );
        }
        return parts.join('\n');
      });
      return mapped.errors.length > 0 ? EXIT.api : EXIT.ok;
    }
    case 'accounts list': {
      const limit = values.limit === undefined ? undefined : toInteger('--limit', values.limit);
      let cursor = typeof values.cursor === 'string' ? values.cursor : null;
      const items: AccountJson[] = [];
      let nextCursor: string | null = null;
      do {
        const query = new URLSearchParams();
        if (limit !== undefined) query.set('limit', String(limit));
        if (cursor !== null) query.set('cursor', cursor);
        const qs = query.toString();
        const page = (await api.call('GET', `/api/v1/accounts${qs === '' ? '' : `?${qs}`}`)) as {
          items: AccountJson[];
          nextCursor: string | null;
        };
        items.push(...page.items);
        nextCursor = page.nextCursor;
        cursor = nextCursor;
      } while (values.all === true && cursor !== null);
      print({ items, nextCursor }, () => {
        const body = table(ACCOUNT_HEADERS, items.map(accountRow));
        return nextCursor === null ? body : `${body}\n(more: --cursor ${nextCursor}, or --all)`;
      });
      return EXIT.ok;
    }
    case 'accounts show': {
      const account = (await api.call('GET', `/api/v1/accounts/${path(arg)}`)) as AccountJson;
      print(account, () => showAccount(account));
      return EXIT.ok;
    }
    case 'accounts passwd': {
      const body = values.password === undefined ? {} : { password: values.password };
      const res = (await api.call('PUT', `/api/v1/accounts/${path(arg)}/password`, body)) as {
        account: AccountJson;
        password?: string;
      };
      print(res, () =>
        [
          `password of ${res.account.aor} changed; its bindings were removed`,
          ...(res.password === undefined ? [] : [passwordNotice(res.account.aor, res.password)]),
        ].join('\n'),
      );
      return EXIT.ok;
    }
    case 'accounts disable':
    case 'accounts enable': {
      const enabled = command === 'accounts enable';
      const account = (await api.call('PATCH', `/api/v1/accounts/${path(arg)}`, { enabled })) as AccountJson;
      print(account, () => (enabled ? `enabled ${account.aor}` : `disabled ${account.aor}; its bindings were removed`));
      return EXIT.ok;
    }
    case 'accounts rm': {
      await api.call('DELETE', `/api/v1/accounts/${path(arg)}`);
      print({ deleted: arg }, () => `deleted ${arg}`);
      return EXIT.ok;
    }
    case 'bindings list': {
      const res = (await api.call('GET', `/api/v1/accounts/${path(arg)}/bindings`)) as {
        aor: string;
        bindings: Array<{
          contact: string;
          expires: number;
          q: number | null;
          sourceAddress: string;
          sourcePort: number;
          transport: string;
          userAgent: string | null;
        }>;
      };
      print(res, () =>
        res.bindings.length === 0
          ? `${res.aor}: no bindings`
          : table(
              ['CONTACT', 'EXPIRES', 'Q', 'SOURCE', 'TRANSPORT', 'USER AGENT'],
              res.bindings.map((b) => [
                b.contact,
                b.expires,
                b.q,
                sourceText(b.sourceAddress, b.sourcePort),
                b.transport,
                b.userAgent,
              ]),
            ),
      );
      return EXIT.ok;
    }
    case 'bindings clear': {
      const res = (await api.call('DELETE', `/api/v1/accounts/${path(arg)}/bindings`)) as {
        aor: string;
        removed: number;
      };
      print(res, () => `${res.aor}: removed ${res.removed} binding${res.removed === 1 ? '' : 's'}`);
      return EXIT.ok;
    }
    case 'blacklist list': {
      const res = (await api.call('GET', '/api/v1/blacklist')) as {
        extensions: Array<{ aor: string; failures: number; lockedUntil: string | null; lastAddress: string | null }>;
        addresses: Array<{ address: string; failures: number; lockedUntil: string | null }>;
      };
      print(res, () =>
        [
          'locked extensions:',
          res.extensions.length === 0
            ? '  none'
            : table(
                ['AOR', 'FAILURES', 'LOCKED UNTIL', 'LAST ADDRESS'],
                res.extensions.map((e) => [e.aor, e.failures, e.lockedUntil ?? 'permanent', e.lastAddress]),
              ),
          '',
          'locked addresses:',
          res.addresses.length === 0
            ? '  none'
            : table(
                ['ADDRESS', 'FAILURES', 'LOCKED UNTIL'],
                res.addresses.map((a) => [a.address, a.failures, a.lockedUntil ?? 'permanent']),
              ),
        ].join('\n'),
      );
      return EXIT.ok;
    }
    case 'blacklist clear': {
      const chosen = [values.extension, values.address, values.all === true ? true : undefined].filter(
        (v) => v !== undefined,
      );
      if (chosen.length !== 1)
        throw usageError('blacklist clear needs exactly one of --extension AOR, --address IP, --all');
      if (typeof values.extension === 'string') {
        await api.call('DELETE', `/api/v1/blacklist/extensions/${path(values.extension)}`);
        print({ lifted: 1, extension: values.extension }, () => `lifted the lockout of ${String(values.extension)}`);
      } else if (typeof values.address === 'string') {
        await api.call('DELETE', `/api/v1/blacklist/addresses/${path(values.address)}`);
        print({ lifted: 1, address: values.address }, () => `lifted the lockout of ${String(values.address)}`);
      } else {
        const res = (await api.call('DELETE', '/api/v1/blacklist')) as { lifted: number };
        print(res, () => `lifted ${res.lifted} lockout${res.lifted === 1 ? '' : 's'}`);
      }
      return EXIT.ok;
    }
    default:
      throw usageError(`unknown command ${command}`);
  }
}

const sourceText = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

function toInteger(option: string, value: unknown): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw usageError(`${option} must be a whole number`);
  return Number(value);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv, out: Out, err: Out): Promise<number> {
  try {
    // A lenient first pass finds the group and verb wherever options are (string options consume their values).
    const allOptions: Options = Object.assign({}, COMMON, ...Object.values(VERB_OPTIONS));
    const [group, verb] = parseArgs({
      args: argv,
      options: allOptions,
      allowPositionals: true,
      strict: false,
    }).positionals;
    const wantsHelp = argv.includes('--help') || argv.includes('-h');
    if (group === undefined) {
      if (wantsHelp || argv.length === 0) {
        (wantsHelp ? out : err)(HELP[''] as string);
        return wantsHelp ? EXIT.ok : EXIT.usage;
      }
      throw usageError('missing command');
    }
    const verbs = VERBS[group];
    if (verbs === undefined) throw usageError(`unknown command group ${JSON.stringify(group)}`);
    if (verb === undefined) {
      if (wantsHelp) {
        out(HELP[group] as string);
        return EXIT.ok;
      }
      throw usageError(`${group} needs a verb: ${verbs.join(', ')}`);
    }
    if (!verbs.includes(verb))
      throw usageError(`unknown verb ${JSON.stringify(verb)} for ${group} (${verbs.join(', ')})`);
    const command = `${group} ${verb}`;

    let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
    try {
      parsed = parseArgs({
        args: argv,
        options: { ...COMMON, ...(VERB_OPTIONS[command] ?? {}) },
        allowPositionals: true,
        strict: true,
      }) as typeof parsed;
    } catch (e) {
      throw usageError(e instanceof Error ? e.message : String(e));
    }
    if (parsed.values.help === true) {
      out(HELP[command] ?? HELP[group] ?? '');
      return EXIT.ok;
    }
    // The first two positionals are the group and verb (options may come anywhere).
    const positionals = parsed.positionals.slice(2);
    const expected = POSITIONALS[command] ?? [];
    if (positionals.length !== expected.length) {
      throw usageError(
        expected.length === 0
          ? `${command} takes no arguments`
          : `${command} needs ${expected.join(' ')}${positionals.length > expected.length ? ' only' : ''}`,
      );
    }

    const baseUrl =
      typeof parsed.values.url === 'string' ? parsed.values.url : (env.SIPREG_URL ?? 'http://127.0.0.1:8080');
    try {
      const u = new URL(baseUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw usageError(`SIPREG_URL ${JSON.stringify(baseUrl)} is not an http(s) URL`);
    }
    return await run({
      command,
      positionals,
      values: parsed.values,
      json: parsed.values.json === true,
      api: makeApi(baseUrl, env.ADMIN_TOKEN),
      out,
    });
  } catch (e) {
    if (e instanceof CliError) {
      err(`sipreg: ${e.message}`);
      return e.code;
    }
    err(`sipreg: unexpected error: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.api;
  }
}

// Run when executed directly (node dist/admin/cli.js); bin/sipreg.js imports main and runs it itself.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  void main(
    process.argv.slice(2),
    process.env,
    (s) => process.stdout.write(s + '\n'),
    (s) => process.stderr.write(s + '\n'),
  ).then((code) => {
    process.exitCode = code;
  });
}
