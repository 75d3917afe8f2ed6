/**
 * `sipreg`: the operator's command line over the admin HTTP API, built with commander from one table: each verb is
 * declared once, with its arguments, options, help and what it does.
 *
 * Exit codes: 0 ok, 1 the API refused (its error message is printed), 2 usage, 3 server unreachable, 4 unauthorized.
 * Tables for people, `--json` for scripts. The token comes from ADMIN_TOKEN only (never an argument: argv is visible
 * to every user of the machine).
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
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

type Values = Record<string, string | boolean | string[] | undefined>;

interface VerbContext {
  api: Api;
  values: Values;
  /** The verb's one argument (USER, AOR or FILE), '' when it takes none. */
  arg: string;
  print(data: unknown, human: () => string): void;
}

interface Verb {
  name: string;
  /** Its positional arguments, as shown in help (`<AOR>`). */
  args: string[];
  summary: string;
  /** More help, after the options. */
  details?: string;
  options: Array<{ flags: string; help: string; repeat?: boolean }>;
  run(ctx: VerbContext): Promise<number>;
}

const setEnabled =
  (enabled: boolean) =>
  async ({ api, arg, print }: VerbContext): Promise<number> => {
    const account = (await api.call('PATCH', `/api/v1/accounts/${path(arg)}`, { enabled })) as AccountJson;
    print(account, () => (enabled ? `enabled ${account.aor}` : `disabled ${account.aor}; its bindings were removed`));
    return EXIT.ok;
  };

const ACCOUNTS: Verb[] = [
  {
    name: 'add',
    args: ['<USER>'],
    summary: 'create an account (a password is generated and shown once unless --password is given)',
    options: [
      { flags: '--domain <D>', help: "domain (default: the registrar's default domain)" },
      { flags: '--auth-id <ID>', help: 'digest username if not USER' },
      { flags: '--password <P>', help: 'password to set (default: generate one, shown once)' },
      {
        flags: '--ip <ADDR>',
        help: 'authenticate by source address (IP or CIDR) instead of password; repeat for several',
        repeat: true,
      },
      { flags: '--max-contacts <N>', help: 'bindings allowed at once (1..100)' },
      { flags: '--algorithms <LIST>', help: 'challenge order, e.g. SHA-256,MD5' },
      { flags: '--disabled', help: 'create disabled' },
    ],
    async run({ api, values, print, arg }) {
      const body: Record<string, unknown> = { username: arg };
      if (values.domain !== undefined) body.domain = values.domain;
      if (values.authId !== undefined) body.authId = values.authId;
      if (values.password !== undefined) body.password = values.password;
      if (values.ip !== undefined) {
        body.authType = 'ip';
        body.allowedAddresses = values.ip;
      }
      if (values.maxContacts !== undefined) body.maxContacts = toInteger('--max-contacts', values.maxContacts);
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
    },
  },
  {
    name: 'import',
    args: ['<FILE>'],
    summary: 'bulk create from CSV (header row) or JSONL',
    details: `CSV needs a header row naming the columns, any of:
  username,domain,authId,password,authType,allowedAddresses,enabled,maxContacts,algorithms
(lists inside a cell are separated by ';' or spaces). JSONL: one JSON account object per line.
Lines without a password get a generated one, printed once. Exit code 1 when any line failed.`,
    options: [{ flags: '--format <F>', help: 'csv or jsonl (default: from the name and content)' }],
    async run({ api, values, print, arg }) {
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
    },
  },
  {
    name: 'list',
    args: [],
    summary: 'list accounts',
    options: [
      { flags: '--limit <N>', help: 'page size (1..1000, default 100)' },
      { flags: '--cursor <AOR>', help: 'start after this AOR (the nextCursor of the previous page)' },
      { flags: '--all', help: 'follow every page' },
    ],
    async run({ api, values, print }) {
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
    },
  },
  {
    name: 'show',
    args: ['<AOR>'],
    summary: 'show one account (never its secret)',
    options: [],
    async run({ api, print, arg }) {
      const account = (await api.call('GET', `/api/v1/accounts/${path(arg)}`)) as AccountJson;
      print(account, () => showAccount(account));
      return EXIT.ok;
    },
  },
  {
    name: 'passwd',
    args: ['<AOR>'],
    summary: "set a new password (generated unless --password); removes the account's bindings",
    details:
      'Every binding of the account is removed: the phone must be given the new password before it can register again.',
    options: [{ flags: '--password <P>', help: 'password to set (default: generate one, shown once)' }],
    async run({ api, values, print, arg }) {
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
    },
  },
  {
    name: 'disable',
    args: ['<AOR>'],
    summary: 'disable the account and remove its bindings',
    options: [],
    run: setEnabled(false),
  },
  { name: 'enable', args: ['<AOR>'], summary: 'enable the account again', options: [], run: setEnabled(true) },
  {
    name: 'rm',
    args: ['<AOR>'],
    summary: 'delete the account, its bindings and its lockout',
    options: [],
    async run({ api, print, arg }) {
      await api.call('DELETE', `/api/v1/accounts/${path(arg)}`);
      print({ deleted: arg }, () => `deleted ${arg}`);
      return EXIT.ok;
    },
  },
];

const BINDINGS: Verb[] = [
  {
    name: 'list',
    args: ['<AOR>'],
    summary: 'current bindings (contact, expires, source, transport, user agent)',
    options: [],
    async run({ api, print, arg }) {
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
    },
  },
  {
    name: 'clear',
    args: ['<AOR>'],
    summary: 'remove every binding of the AOR',
    options: [],
    async run({ api, print, arg }) {
      const res = (await api.call('DELETE', `/api/v1/accounts/${path(arg)}/bindings`)) as {
        aor: string;
        removed: number;
      };
      print(res, () => `${res.aor}: removed ${res.removed} binding${res.removed === 1 ? '' : 's'}`);
      return EXIT.ok;
    },
  },
];

const BLACKLIST: Verb[] = [
  {
    name: 'list',
    args: [],
    summary: 'locked extensions and addresses',
    options: [],
    async run({ api, print }) {
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
    },
  },
  {
    name: 'clear',
    args: [],
    summary: 'lift a lockout (and reset its counter): exactly one of --extension, --address, --all',
    options: [
      { flags: '--extension <AOR>', help: 'the extension (user@domain, or user) to lift' },
      { flags: '--address <IP>', help: 'the source address to lift' },
      { flags: '--all', help: 'every lockout' },
    ],
    async run({ api, values, print }) {
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
    },
  },
];

const GROUPS: Array<{ name: string; verbs: Verb[] }> = [
  { name: 'accounts', verbs: ACCOUNTS },
  { name: 'bindings', verbs: BINDINGS },
  { name: 'blacklist', verbs: BLACKLIST },
];

const ENVIRONMENT = `
environment:
  SIPREG_URL    admin API base URL (default http://127.0.0.1:8080)
  ADMIN_TOKEN   bearer token of the admin API

An AOR is user@domain, or a bare user in the registrar's default domain.
exit codes: 0 ok, 1 API error, 2 usage, 3 server unreachable, 4 unauthorized`;

/** The command tree: every group and verb from the tables above; what a verb returns is left in `result.code`. */
function program(env: NodeJS.ProcessEnv, out: Out, err: Out, result: { code: number }): Command {
  // An error, or the help shown for a missing command, goes to stderr as one block starting 'sipreg: '.
  let firstErr = true;
  const writeErr = (s: string): void => {
    err(`${firstErr ? 'sipreg: ' : ''}${s.replace(/^error: /, '').trimEnd()}`);
    firstErr = false;
  };
  const configure = (c: Command): Command =>
    c
      .exitOverride()
      .helpCommand(false)
      .configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr, outputError: (s, write) => write(s) })
      // 'usage:' and 'options:' in lower case, as the rest of sipreg's output.
      .configureHelp({ styleTitle: (t) => t.toLowerCase() });
  const root = configure(new Command('sipreg'))
    .description('administer the sipreg SIP registrar through its admin API')
    .addHelpText('after', ENVIRONMENT);
  for (const g of GROUPS) {
    const group = configure(root.command(g.name)).description(g.verbs.map((v) => v.name).join(' | '));
    for (const v of g.verbs) {
      const cmd = configure(group.command(v.name)).description(v.summary);
      for (const a of v.args) cmd.argument(a);
      for (const o of v.options) {
        const opt = new Option(o.flags, o.help);
        cmd.addOption(o.repeat ? opt.argParser((x: string, prev: string[] = []) => [...prev, x]) : opt);
      }
      cmd.option('--json', 'print the API response as JSON').option('--url <URL>', 'admin API base URL (SIPREG_URL)');
      if (v.details !== undefined) cmd.addHelpText('after', `\n${v.details}`);
      cmd.action(async (...params: unknown[]) => {
        const values = (params[v.args.length] ?? {}) as Values;
        const arg = v.args.length > 0 ? String(params[0]) : '';
        const baseUrl = typeof values.url === 'string' ? values.url : (env.SIPREG_URL ?? 'http://127.0.0.1:8080');
        try {
          const u = new URL(baseUrl);
          if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
        } catch {
          throw usageError(`SIPREG_URL ${JSON.stringify(baseUrl)} is not an http(s) URL`);
        }
        const json = values.json === true;
        result.code = await v.run({
          api: makeApi(baseUrl, env.ADMIN_TOKEN),
          values,
          arg,
          print: (data, human) => out(json ? JSON.stringify(data, null, 2) : human()),
        });
      });
    }
  }
  return root;
}

const sourceText = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

function toInteger(option: string, value: unknown): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw usageError(`${option} must be a whole number`);
  return Number(value);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv, out: Out, err: Out): Promise<number> {
  const result = { code: EXIT.ok as number };
  try {
    await program(env, out, err, result).parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help asked for is success; help shown for a missing command, and every parse error, is a usage error.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
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
