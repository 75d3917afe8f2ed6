/**
 * A test phone: registers like a desk phone does (REGISTER, 401, REGISTER with Authorization), over any of the test
 * clients, with its own digest client (./digest-client.ts) and its own Call-ID and rising CSeq.
 */
import { answer, parseChallenge, type Challenge } from './digest-client.js';
import { registerText, randomToken, type RegisterSpec } from './sip-text.js';
import type { TestResponse } from './sip-client.js';

export interface Channel {
  request(text: string): Promise<TestResponse>;
  /** The Via sent-by transport and host:port, e.g. `UDP 127.0.0.1:5070`. */
  readonly via: string;
  /** Contact host:port and transport param for default contacts. */
  readonly contactHost: string;
}

export interface PhoneOptions {
  user: string;
  domain: string;
  password: string;
  authId?: string;
  /** Which of the offered challenges to answer; default the first. */
  pick?: (challenges: Challenge[]) => Challenge;
}

export class Phone {
  readonly callId = `${randomToken(8)}@phone`;
  private cseq = 0;
  lastChallenge: Challenge | null = null;

  constructor(
    readonly channel: Channel,
    readonly o: PhoneOptions,
  ) {}

  get contact(): string {
    return `<sip:${this.o.user}@${this.channel.contactHost}>`;
  }

  spec(extra: Partial<RegisterSpec> = {}): RegisterSpec {
    return {
      user: this.o.user,
      domain: this.o.domain,
      callId: this.callId,
      cseq: ++this.cseq,
      via: this.channel.via,
      contacts: [this.contact],
      ...extra,
    };
  }

  /** One REGISTER as given, no authentication. */
  send(extra: Partial<RegisterSpec> = {}): Promise<TestResponse> {
    return this.channel.request(registerText(this.spec(extra)));
  }

  challengesOf(r: TestResponse): Challenge[] {
    return (r.headers.get('www-authenticate') ?? []).map(parseChallenge);
  }

  /** The full flow: REGISTER, and when challenged, the answer with the password (or `password` given). */
  async register(extra: Partial<RegisterSpec> = {}, password = this.o.password): Promise<TestResponse> {
    const first = await this.send(extra);
    if (first.status !== 401) return first;
    const challenges = this.challengesOf(first);
    const challenge = this.o.pick ? this.o.pick(challenges) : challenges[0];
    if (challenge === undefined) throw new Error('401 without WWW-Authenticate');
    this.lastChallenge = challenge;
    return this.answerWith(challenge, extra, password);
  }

  answerWith(
    challenge: Challenge,
    extra: Partial<RegisterSpec> = {},
    password = this.o.password,
    nc = 1,
  ): Promise<TestResponse> {
    const spec = this.spec(extra);
    const uri = spec.requestUri ?? `sip:${this.o.domain}`;
    const authorization = answer(challenge, {
      username: this.o.authId ?? this.o.user,
      password,
      method: 'REGISTER',
      uri,
      nc,
    });
    return this.channel.request(registerText({ ...spec, authorization }));
  }
}
