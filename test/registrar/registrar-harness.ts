/**
 * Shared set-up of the Registrar end-to-end tests: a store with accounts, a Registrar with a capturing logger, and a
 * "phone" that builds REGISTER text, parses it with the real parser and answers challenges with the test digest client.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { DEFAULT_REGISTRAR_CONFIG, type RegistrarConfig } from '../../src/registrar/config.js';
import { Registrar, refused, type RegistrarReply } from '../../src/registrar/register.js';
import { toRegisterRequest, type RegisterRequest } from '../../src/sip/register-request.js';
import { validateRequest } from '../../src/sip/validate.js';
import { singleKey } from '../../src/registrar/nonce.js';
import type { Peer, SipRequest } from '../../src/sip/message.js';
import { DEFAULT_PARSE_LIMITS, parseMessage } from '../../src/sip/parse.js';
import type { Account, Credentials, DigestAlgorithm } from '../../src/domain/types.js';
import type { Store } from '../../src/store/types.js';
import { answer, ha1Of, parseChallenge, type AnswerOptions, type Challenge } from '../helpers/digest-client.js';
import { randomToken, registerText, type RegisterSpec } from '../helpers/sip-text.js';

export const DOMAIN = 'example.test';
export const OTHER_DOMAIN = 'second.test';
export const PEER: Peer = { transport: 'udp', address: '192.0.2.10', port: 5070 };

export function parseRequest(text: string): SipRequest {
  const r = parseMessage(Buffer.from(text), DEFAULT_PARSE_LIMITS);
  if (!r.ok || r.message.kind !== 'request')
    throw new Error(`test REGISTER did not parse: ${r.ok ? 'response' : r.reason}`);
  return r.message;
}

/**
 * What the dispatcher does before the registrar: validate, then build the REGISTER request. A refusal on the way
 * comes back as the reply the dispatcher would send.
 */
export function registerRequest(text: string, peer: Peer = PEER): RegisterRequest | RegistrarReply {
  const v = validateRequest(parseRequest(text));
  if (!v.ok) return refused(v.refusal);
  const r = toRegisterRequest(v.request, peer);
  return 'why' in r ? refused(r) : r;
}

/** Sends REGISTER text to a registrar as the dispatcher would. */
export async function sendTo(
  registrar: Registrar,
  text: string,
  peer: Peer,
  now: number,
): Promise<RegistrarReply | null> {
  const r = registerRequest(text, peer);
  return 'outcome' in r ? r : registrar.handleRegister(r, now);
}

export function header(reply: RegistrarReply, name: string): string[] {
  return reply.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

export function headerNames(reply: RegistrarReply): string[] {
  return reply.headers.map(([n]) => n.toLowerCase()).sort();
}

export function must(reply: RegistrarReply | null): RegistrarReply {
  if (reply === null) throw new Error('expected a reply, got none');
  return reply;
}

const ALL_ALGS: DigestAlgorithm[] = ['MD5', 'SHA-256', 'SHA-512-256'];

export function credentialsFor(authId: string, domain: string, password: string): Credentials {
  const ha1: Partial<Record<DigestAlgorithm, string>> = {};
  for (const a of ALL_ALGS) ha1[a] = ha1Of(a, authId, domain, password);
  return { ha1, previousHa1: null, previousUntil: null };
}

export function makeAccount(username: string, over: Partial<Account> = {}): Account {
  const domain = over.domain ?? DOMAIN;
  return {
    aor: `${username}@${domain}`,
    username,
    domain,
    authId: username,
    authType: 'digest',
    allowedAddresses: [],
    enabled: true,
    maxContacts: null,
    algorithms: null,
    createdAt: 0,
    updatedAt: 0,
    passwordChangedAt: null,
    staleDevice: null,
    ...over,
  };
}

export class Harness {
  readonly logs: string[] = [];
  readonly registrar: Registrar;
  readonly config: RegistrarConfig;

  constructor(
    readonly store: Store,
    config: Partial<RegistrarConfig> = {},
  ) {
    this.config = {
      ...DEFAULT_REGISTRAR_CONFIG,
      domains: [DOMAIN, OTHER_DOMAIN],
      nonceKeys: singleKey(randomBytes(32)),
      ...config,
    };
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.logs.push(chunk.toString());
        cb();
      },
    });
    this.registrar = new Registrar(store, this.config, pino({ level: 'debug' }, sink));
  }

  async addUser(username: string, password: string, over: Partial<Account> = {}): Promise<Account> {
    const account = makeAccount(username, over);
    const ok = await this.store.createAccount({
      account,
      credentials: account.authType === 'ip' ? null : credentialsFor(account.authId, account.domain, password),
    });
    if (!ok) throw new Error('account exists');
    return account;
  }

  phone(user: string, password: string, peer: Peer = PEER, domain = DOMAIN): Phone {
    return new Phone(this, user, password, peer, domain);
  }

  async failures(aor: string, now: number): Promise<number> {
    return (await this.store.loadRegistration(aor, '203.0.113.250', now)).extensionLock?.failures ?? 0;
  }
}

/** A UA: one Call-ID, a rising CSeq, and the last challenge it saw. */
export class Phone {
  callId = `${randomToken(8)}@phone`;
  cseq = 0;
  challenge: Challenge | null = null;
  nc = 0;

  constructor(
    readonly h: Harness,
    readonly user: string,
    readonly password: string,
    readonly peer: Peer,
    readonly domain: string,
  ) {}

  get contact(): string {
    return `<sip:${this.user}@${this.peer.address}:${this.peer.port}>`;
  }

  spec(over: RegisterSpec = {}): RegisterSpec {
    return {
      user: this.user,
      domain: this.domain,
      callId: this.callId,
      cseq: ++this.cseq,
      contacts: [this.contact],
      ...over,
    };
  }

  /** Sends one REGISTER as is. */
  async send(over: RegisterSpec, now: number, peer: Peer = this.peer): Promise<RegistrarReply | null> {
    const reply = await sendTo(this.h.registrar, registerText(this.spec(over)), peer, now);
    const www = reply === null ? [] : header(reply, 'WWW-Authenticate');
    if (www[0] !== undefined) {
      this.challenge = parseChallenge(www[0]);
      this.nc = 0;
    }
    const info = reply === null ? [] : header(reply, 'Authentication-Info');
    const next = info[0] === undefined ? undefined : /nextnonce="([^"]+)"/.exec(info[0])?.[1];
    if (next !== undefined && this.challenge !== null) {
      this.challenge = { ...this.challenge, nonce: next };
      this.nc = 0;
    }
    return reply;
  }

  /** The Authorization for the current challenge (the next nc). */
  authorization(over: Partial<AnswerOptions> = {}, requestUri = `sip:${this.domain}`): string {
    if (this.challenge === null) throw new Error('no challenge yet');
    this.nc++;
    return answer(this.challenge, {
      username: this.user,
      password: this.password,
      method: 'REGISTER',
      uri: requestUri,
      nc: this.nc,
      ...over,
    });
  }

  /** The usual two round trips: unauthenticated, then answering the challenge. */
  async register(
    over: RegisterSpec = {},
    now: number,
    answerOver: Partial<AnswerOptions> = {},
  ): Promise<RegistrarReply> {
    const first = must(await this.send({ ...over, authorization: undefined }, now));
    if (first.status !== 401) return first;
    return must(await this.send({ ...over, authorization: this.authorization(answerOver) }, now));
  }

  /** One round trip reusing the current nonce with the next nc. */
  async refresh(over: RegisterSpec = {}, now: number): Promise<RegistrarReply> {
    return must(await this.send({ ...over, authorization: this.authorization() }, now));
  }
}
