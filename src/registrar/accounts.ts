/**
 * Account administration: what an operator may do to SIP accounts, over the Store.
 *
 * Passwords exist here only long enough to derive their HA1s (RFC 7616 3.4.2: H(username ":" realm ":" password) with
 * username = the auth ID and realm = the account's domain); the plaintext is never stored and never logged. Every change
 * is a log event naming who (the admin API), what and when, without any secret.
 */
import type { Logger } from 'pino';
import { computeHa1 } from '../sip/digest.js';
import { ephemeralPassword, ephemeralUsername, newCredentialSecret } from './ephemeral.js';
import { AuditTrail, Audited } from './audit.js';
import { OperatorError } from './errors.js';
import {
  DIGEST_ALGORITHMS,
  type Account,
  type AccountPatch,
  type AccountRecord,
  type AuditValue,
  type Binding,
  type Credentials,
  type DigestAlgorithm,
  type Ha1Set,
} from '../domain/types.js';
import { type Page, type Store } from '../store/types.js';
import { parseNetwork } from './address-match.js';
import { checkPassword, generatePassword, type PasswordPolicy } from './passwords.js';
import { AccountInputSchema, AccountPatchSchema, checker, type AccountInput } from '../domain/account-input.js';

export type { AccountInput } from '../domain/account-input.js';

const DEFAULT_CREDENTIAL_TTL_SEC = 3600;
const MIN_CREDENTIAL_TTL_SEC = 60;
const MAX_CREDENTIAL_TTL_SEC = 86_400;

export interface AccountServiceOptions {
  /** Served domains; the first is the default domain (and realm). */
  domains: string[];
  passwordPolicy: PasswordPolicy;
  /** How long the previous password's HA1s stay recognised after a change. */
  passwordGraceMs: number;
  /** Told of every change to an account, so a registrar in this process stops trusting what it remembered of it. */
  onChange?: (aor: string) => void;
  /** Where changes are recorded; default a trail on the same store. */
  audit?: AuditTrail;
}

export interface ImportResult {
  created: number;
  errors: Array<{ line: number; error: string }>;
  /** Passwords generated for lines that gave none: shown in this response only. */
  passwords: Array<{ line: number; aor: string; password: string }>;
}

export const MAX_LIST_LIMIT = 1000;
const IMPORT_CONCURRENCY = 32;

export class AccountService extends Audited {
  private readonly domains: string[];

  constructor(
    private readonly store: Store,
    private readonly options: AccountServiceOptions,
    private readonly logger: Logger,
  ) {
    super(options.audit ?? new AuditTrail(store, logger));
    this.domains = options.domains.map((d) => d.toLowerCase());
    if (this.domains.length === 0) throw new Error('AccountService needs at least one domain');
  }

  get servedDomains(): readonly string[] {
    return this.domains;
  }

  get defaultDomain(): string {
    return this.domains[0] as string;
  }

  /** `user@domain` as given, or a bare `user` in the default domain. The domain must be one this registrar serves. */
  resolveAor(aorOrUser: string): string {
    const at = aorOrUser.lastIndexOf('@');
    const user = at < 0 ? aorOrUser : aorOrUser.slice(0, at);
    const domain = at < 0 ? this.defaultDomain : aorOrUser.slice(at + 1).toLowerCase();
    if (user === '') throw new OperatorError('invalid', 'the AOR has no user part');
    if (!this.domains.includes(domain)) throw new OperatorError('not-found', `domain ${domain} is not served here`);
    return `${user}@${domain}`;
  }

  async create(input: AccountInput, now = Date.now()): Promise<{ account: Account; generatedPassword?: string }> {
    const { record, generatedPassword } = this.buildRecord(input, now);
    if (!(await this.store.createAccount(record))) {
      throw new OperatorError('exists', `account ${record.account.aor} exists already`);
    }
    this.audit('account.create', record.account.aor, now, {
      authType: record.account.authType,
      passwordGenerated: generatedPassword !== undefined,
    });
    return generatedPassword === undefined
      ? { account: record.account }
      : { account: record.account, generatedPassword };
  }

  /**
   * Bulk create: NDJSON text (one account per line) or an array of records. Every line is tried, with bounded
   * concurrency; a bad line is reported by its 1-based line number and does not stop the others.
   */
  async import(ndjsonOrRecords: string | readonly unknown[], now = Date.now()): Promise<ImportResult> {
    const lines: Array<{ line: number; value: unknown; parseError?: string }> = [];
    if (typeof ndjsonOrRecords === 'string') {
      ndjsonOrRecords.split('\n').forEach((text, i) => {
        const trimmed = text.trim();
        if (trimmed === '') return;
        try {
          lines.push({ line: i + 1, value: JSON.parse(trimmed) as unknown });
        } catch {
          lines.push({ line: i + 1, value: undefined, parseError: 'not valid JSON' });
        }
      });
    } else {
      ndjsonOrRecords.forEach((value, i) => lines.push({ line: i + 1, value }));
    }

    const result: ImportResult = { created: 0, errors: [], passwords: [] };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < lines.length) {
        const item = lines[next++] as (typeof lines)[number];
        try {
          if (item.parseError !== undefined) throw new OperatorError('invalid', item.parseError);
          const created = await this.create(parseAccountInput(item.value), now);
          result.created++;
          if (created.generatedPassword !== undefined) {
            result.passwords.push({ line: item.line, aor: created.account.aor, password: created.generatedPassword });
          }
        } catch (err) {
          if (!(err instanceof OperatorError))
            this.logger.error({ err, line: item.line }, 'account import: store error');
          result.errors.push({ line: item.line, error: err instanceof OperatorError ? err.message : 'store error' });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, lines.length) }, worker));
    result.errors.sort((a, b) => a.line - b.line);
    result.passwords.sort((a, b) => a.line - b.line);
    this.record('account.import', '*', now, { created: result.created, failed: result.errors.length });
    return result;
  }

  async get(aorOrUser: string): Promise<Account> {
    const record = await this.getRecord(this.resolveAor(aorOrUser));
    return record.account;
  }

  async list(limit = 100, cursor: string | null = null): Promise<Page<Account>> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new OperatorError('invalid', `limit must be an integer in 1..${MAX_LIST_LIMIT}`);
    }
    return this.store.listAccounts(limit, cursor === '' ? null : cursor);
  }

  /** Changes enabled, allowedAddresses, maxContacts or algorithms. Disabling removes every binding in the same step. */
  async update(aorOrUser: string, patch: AccountPatch, now = Date.now()): Promise<Account> {
    const aor = this.resolveAor(aorOrUser);
    const clean = parsePatch(patch);
    const current = await this.getRecord(aor);
    if (
      clean.allowedAddresses !== undefined &&
      current.account.authType === 'ip' &&
      clean.allowedAddresses.length === 0
    ) {
      throw new OperatorError('invalid', 'allowedAddresses: an ip account needs at least one address');
    }
    const disabling = clean.enabled === false;
    const account = await this.store.updateAccount(aor, clean, now, disabling);
    if (account === null) throw new OperatorError('not-found', `no account ${aor}`);
    this.audit('account.update', aor, now, { fields: Object.keys(clean), bindingsRemoved: disabling });
    return account;
  }

  /**
   * Sets the password (or generates one, returned here once). The new HA1s replace the old; the old ones stay
   * recognised for passwordGraceMs so a phone still using them is reported rather than locked out. Every binding is
   * removed in the same atomic step (store.setCredentials).
   */
  async setPassword(
    aorOrUser: string,
    password?: string,
    now = Date.now(),
  ): Promise<{ account: Account; generatedPassword?: string }> {
    const aor = this.resolveAor(aorOrUser);
    if (password !== undefined && typeof password !== 'string')
      throw new OperatorError('invalid', 'password: must be a string');
    const current = await this.getRecord(aor);
    const { account } = current;
    if (account.authType === 'ip')
      throw new OperatorError('invalid', `account ${aor} authenticates by IP and has no password`);
    const chosen = password ?? generatePassword();
    if (password !== undefined) {
      const weak = checkPassword(password, this.options.passwordPolicy, account.username, account.authId);
      if (weak !== null) throw new OperatorError('invalid', weak);
    }
    const previous = current.credentials?.ha1;
    const credentials: Credentials = {
      ha1: ha1Set(account.authId, account.domain, chosen),
      previousHa1: previous !== undefined && Object.keys(previous).length > 0 ? previous : null,
      previousUntil:
        previous !== undefined && Object.keys(previous).length > 0 ? now + this.options.passwordGraceMs : null,
    };
    if (!(await this.store.setCredentials(aor, credentials, now)))
      throw new OperatorError('not-found', `no account ${aor}`);
    this.audit('account.password', aor, now, { passwordGenerated: password === undefined, bindingsRemoved: true });
    const updated = (await this.store.getAccount(aor))?.account ?? account;
    return password === undefined ? { account: updated, generatedPassword: chosen } : { account: updated };
  }

  /**
   * Short-lived digest credentials for a browser softphone (./ephemeral.ts): valid until expiresAt, and no binding
   * made with them outlives it. The account's credential secret is made on first use.
   */
  async mintCredentials(
    aorOrUser: string,
    ttlSec: number = DEFAULT_CREDENTIAL_TTL_SEC,
    now = Date.now(),
  ): Promise<{ username: string; password: string; expiresAt: number }> {
    const aor = this.resolveAor(aorOrUser);
    if (!Number.isInteger(ttlSec) || ttlSec < MIN_CREDENTIAL_TTL_SEC || ttlSec > MAX_CREDENTIAL_TTL_SEC)
      throw new OperatorError(
        'invalid',
        `ttlSec: must be an integer from ${MIN_CREDENTIAL_TTL_SEC} to ${MAX_CREDENTIAL_TTL_SEC}`,
      );
    const record = await this.getRecord(aor);
    if (record.account.authType === 'ip')
      throw new OperatorError('invalid', `account ${aor} authenticates by IP: it has no credentials to mint`);
    let secret = record.credentialSecret ?? null;
    if (secret === null) {
      secret = newCredentialSecret();
      await this.store.setCredentialSecret(aor, secret);
    }
    const expiresAt = now + ttlSec * 1000;
    const username = ephemeralUsername(expiresAt, record.account.authId);
    this.audit('account.credentials', aor, now, { ttlSec });
    return { username, password: ephemeralPassword(secret, username), expiresAt: Math.floor(expiresAt / 1000) * 1000 };
  }

  /** A new credential secret, returned once (for a web backend that mints credentials itself); old ones stop working. */
  async rotateCredentialSecret(aorOrUser: string, now = Date.now()): Promise<{ aor: string; secret: string }> {
    const aor = this.resolveAor(aorOrUser);
    const record = await this.getRecord(aor);
    if (record.account.authType === 'ip') throw new OperatorError('invalid', `account ${aor} authenticates by IP`);
    const secret = newCredentialSecret();
    if (!(await this.store.setCredentialSecret(aor, secret))) throw new OperatorError('not-found', `no account ${aor}`);
    this.audit('account.credential-secret', aor, now, {});
    return { aor, secret };
  }

  async remove(aorOrUser: string, now = Date.now()): Promise<void> {
    const aor = this.resolveAor(aorOrUser);
    if (!(await this.store.deleteAccount(aor))) throw new OperatorError('not-found', `no account ${aor}`);
    this.audit('account.delete', aor, now, {});
  }

  async bindings(aorOrUser: string, now = Date.now()): Promise<{ aor: string; bindings: Binding[] }> {
    const aor = this.resolveAor(aorOrUser);
    await this.getRecord(aor);
    return { aor, bindings: await this.store.getBindings(aor, now) };
  }

  async clearBindings(aorOrUser: string, now = Date.now()): Promise<{ aor: string; removed: number }> {
    const aor = this.resolveAor(aorOrUser);
    await this.getRecord(aor);
    const removed = await this.store.clearBindings(aor);
    this.audit('bindings.clear', aor, now, { removed });
    return { aor, removed };
  }

  private async getRecord(aor: string): Promise<AccountRecord> {
    const record = await this.store.getAccount(aor);
    if (record === null) throw new OperatorError('not-found', `no account ${aor}`);
    return record;
  }

  private buildRecord(raw: AccountInput, now: number): { record: AccountRecord; generatedPassword?: string } {
    const input = parseAccountInput(raw);
    const username = input.username;
    const domain = (input.domain ?? this.defaultDomain).toLowerCase();
    if (!this.domains.includes(domain)) throw new OperatorError('invalid', `domain: ${domain} is not served here`);
    const authId = input.authId ?? username;
    const authType = input.authType ?? 'digest';
    const allowedAddresses = input.allowedAddresses ?? [];

    let credentials: Credentials | null = null;
    let generatedPassword: string | undefined;
    if (authType === 'ip') {
      if (allowedAddresses.length === 0)
        throw new OperatorError('invalid', 'allowedAddresses: an ip account needs at least one address');
      if (input.password !== undefined) throw new OperatorError('invalid', 'password: an ip account has no password');
    } else {
      if (input.password !== undefined) {
        const weak = checkPassword(input.password, this.options.passwordPolicy, username, authId);
        if (weak !== null) throw new OperatorError('invalid', weak);
      } else {
        generatedPassword = generatePassword();
      }
      const password = input.password ?? (generatedPassword as string);
      credentials = { ha1: ha1Set(authId, domain, password), previousHa1: null, previousUntil: null };
    }

    const account: Account = {
      aor: `${username}@${domain}`,
      username,
      domain,
      authId,
      authType,
      allowedAddresses,
      enabled: input.enabled ?? true,
      maxContacts: input.maxContacts ?? null,
      algorithms: input.algorithms ?? null,
      createdAt: now,
      updatedAt: now,
      passwordChangedAt: credentials === null ? null : now,
      staleDevice: null,
    };
    return generatedPassword === undefined
      ? { record: { account, credentials } }
      : { record: { account, credentials }, generatedPassword };
  }

  /** Every change goes to the audit trail (store and log) and is announced (options.onChange). */
  private audit(what: string, aor: string, now: number, detail: Record<string, AuditValue>): void {
    this.options.onChange?.(aor);
    this.record(what, aor, now, { aor, ...detail });
  }
}

/** HA1 for every supported algorithm, so the account's algorithm list can change later without a new password. */
function ha1Set(authId: string, realm: string, password: string): Ha1Set {
  const set: Partial<Record<DigestAlgorithm, string>> = {};
  for (const alg of DIGEST_ALGORITHMS) set[alg] = computeHa1(alg, authId, realm, password);
  return set;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The schema has checked the shape (strings, at most 100); each must also be an address or a CIDR. */
function checkAddresses(value: readonly string[]): string[] {
  return value.map((entry) => {
    if (parseNetwork(entry.trim()) === null) {
      throw new OperatorError('invalid', `allowedAddresses: ${JSON.stringify(entry)} is not an IP address or CIDR`);
    }
    return entry.trim();
  });
}

const checkInput = checker(AccountInputSchema, 'an account');
const checkPatch = checker(AccountPatchSchema, 'the patch');

/**
 * Validates an untrusted create request (an HTTP body, an import line, a console form) against the one schema,
 * src/domain/account-input.ts; unknown fields are refused by name. What a schema cannot say (an IP or CIDR) is checked
 * here.
 */
export function parseAccountInput(value: unknown): AccountInput {
  const r = checkInput(value);
  if (!r.ok) throw new OperatorError('invalid', r.problem);
  const input = { ...r.value };
  if (input.allowedAddresses !== undefined) input.allowedAddresses = checkAddresses(input.allowedAddresses);
  return input;
}

/** Validates an untrusted patch. maxContacts and algorithms may be null: back to the registrar's default. */
export function parsePatch(value: unknown): AccountPatch {
  if (isRecord(value) && Object.keys(value).length === 0) throw new OperatorError('invalid', 'nothing to change');
  const r = checkPatch(value);
  if (!r.ok) throw new OperatorError('invalid', r.problem);
  const patch = { ...r.value };
  if (patch.allowedAddresses !== undefined) patch.allowedAddresses = checkAddresses(patch.allowedAddresses);
  return patch;
}
