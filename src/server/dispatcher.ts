/**
 * The SIP server's front desk: every message the transports deliver comes here. It parses (../sip/parse.ts), validates,
 * matches retransmissions to their transaction, routes by method, and sends the response back the way RFC 3261 18.2.2
 * and RFC 3581 say. REGISTER goes to the registrar; OPTIONS is answered here; ACK and responses are dropped; every other
 * method gets 405. Nothing that arrives can throw out of handle().
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Peer } from '../sip/message.js';
import { parseMessage, type ParseLimits } from '../sip/parse.js';
import { validateRequest, type ValidRequest } from '../sip/validate.js';
import { toRegisterRequest, type RegisterRequest } from '../sip/register-request.js';
import { REFUSALS } from '../sip/refusals.js';
import { buildResponse, routeForResponse, unvalidated, type Answerable } from '../sip/response.js';
import { ServerTransactions } from '../sip/transactions.js';
import { methodLabel, type Metrics } from '../observability/metrics.js';
import type { RegistrarReply } from '../registrar/register.js';

export interface RegisterHandler {
  /** null: send nothing (a locked source address is ignored). */
  handleRegister(req: RegisterRequest, now: number): Promise<RegistrarReply | null>;
}

export interface ResponseSender {
  /** Sends to `route` (UDP) or over the peer's connection (TCP/TLS). */
  send(peer: Peer, route: { address: string; port: number }, data: Buffer): void;
}

export interface DispatcherOptions {
  serverName: string;
  limits: ParseLimits;
  transactions: ServerTransactions;
  /** Optional per-source flood guard: false drops the message before any parsing. */
  admit?: (peer: Peer, now: number) => boolean;
}

const ALLOW = 'REGISTER, OPTIONS';

export class Dispatcher {
  private inFlight = 0;
  private refusing = false;
  private idleWaiters: Array<() => void> = [];
  private tagPrefix = randomBytes(4).toString('hex');
  private tagCounter = 0;

  constructor(
    private readonly registrar: RegisterHandler,
    private readonly sender: ResponseSender,
    private readonly options: DispatcherOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Requests still being processed (for graceful shutdown). */
  get pending(): number {
    return this.inFlight;
  }

  /** Resolves once no request is being processed. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** From now on every message is dropped unanswered (shutdown: the client retries elsewhere or later). */
  refuseNew(): void {
    this.refusing = true;
  }

  handle(data: Buffer, peer: Peer): void {
    if (this.refusing) return;
    try {
      this.handleMessage(data, peer);
    } catch (e) {
      // A bug, not input: log it, keep serving.
      this.logger.error({ err: e, source: peer.address, transport: peer.transport }, 'message handling failed');
    }
  }

  private handleMessage(data: Buffer, peer: Peer): void {
    const now = Date.now();
    if (this.options.admit !== undefined && !this.options.admit(peer, now)) {
      this.metrics.dropped.inc({ reason: 'rate-limit' });
      return;
    }
    const parsed = parseMessage(data, this.options.limits);
    if (!parsed.ok) {
      this.metrics.parseErrors.inc({ transport: peer.transport });
      // A 400 only when the request can be routed back; otherwise the message is dropped (RFC 3261 18.2.2).
      if (parsed.isRequest && parsed.headers !== null)
        this.reply(unvalidated(parsed.headers), peer, REFUSALS.invalid.status, parsed.reason, null);
      return;
    }
    const msg = parsed.message;
    if (msg.kind === 'response') return; // a registrar sends no requests, so a response belongs to nothing here

    const method = msg.method;
    this.metrics.requestsBy(methodLabel(method), peer.transport).inc();
    if (method === 'ACK') return; // never answered (RFC 3261 17.2.1); no INVITE transactions here anyway

    const validation = validateRequest(msg);
    if (!validation.ok) {
      const r = validation.refusal;
      this.metrics.parseErrors.inc({ transport: peer.transport });
      this.reply(unvalidated(msg.headers), peer, r.status, r.phrase, r.headers);
      return;
    }
    const valid = validation.request;
    const answerable = answerableOf(valid);

    const txKey = this.transactionKey(valid);
    if (txKey !== null) {
      const state = this.options.transactions.begin(txKey, now, peer.transport !== 'udp');
      if (state.kind !== 'new') {
        this.metrics.retransmissions.inc();
        if (state.kind === 'completed') this.resend(answerable, peer, state.response);
        return;
      }
    }

    switch (method) {
      case 'REGISTER': {
        const req = toRegisterRequest(valid, peer);
        if ('why' in req) {
          this.respond(answerable, peer, txKey, now, req.status, req.phrase, req.headers);
          this.metrics.registrationsBy('rejected', req.why).inc();
          return;
        }
        this.register(req, answerable, now, txKey);
        return;
      }
      case 'OPTIONS':
        // RFC 3261 11.2: capabilities of this server.
        this.respond(answerable, peer, txKey, now, 200, 'OK', [
          ['Allow', ALLOW],
          ['Accept', 'application/sdp'],
          ['Supported', 'path, outbound'],
        ]);
        return;
      default:
        // RFC 3261 8.2.1: a method we understand but do not support here.
        this.respond(answerable, peer, txKey, now, REFUSALS.method.status, REFUSALS.method.phrase, [['Allow', ALLOW]]);
    }
  }

  private register(req: RegisterRequest, answerable: Answerable, started: number, txKey: string | null): void {
    const peer = req.source;
    this.inFlight++;
    this.registrar
      .handleRegister(req, started)
      .then(
        (reply) => {
          if (reply === null) {
            // A locked address gets no answer; its retransmissions are absorbed until the transaction ends.
            this.metrics.dropped.inc({ reason: 'locked-address' });
            return;
          }
          this.countOutcome(reply);
          this.respond(answerable, peer, txKey, started, reply.status, reply.reason, reply.headers);
        },
        (e: unknown) => {
          this.logger.error({ err: e, callId: req.callId, source: peer.address }, 'REGISTER failed');
          this.respond(answerable, peer, txKey, started, 500, 'Server Internal Error', []);
        },
      )
      .finally(() => {
        this.metrics.durationBy('REGISTER').observe((Date.now() - started) / 1000);
        if (--this.inFlight === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      });
  }

  private countOutcome(reply: RegistrarReply): void {
    const o = reply.outcome;
    if (o.kind === 'registered') {
      if (o.added > 0) this.metrics.registrationsBy('new', '').inc(o.added);
      if (o.refreshed > 0) this.metrics.registrationsBy('refreshed', '').inc(o.refreshed);
      if (o.removed > 0) this.metrics.registrationsBy('removed', '').inc(o.removed);
    } else if (o.kind === 'challenged') {
      this.metrics.registrationsBy('challenged', '').inc();
      // A wrong answer on a nonce we could not accept is challenged again, and still a failed authentication.
      if (o.authFailure !== undefined) this.metrics.authFailures.inc({ reason: o.authFailure });
    } else {
      this.metrics.registrationsBy('rejected', o.reason).inc();
      if (o.authFailure !== undefined) this.metrics.authFailures.inc({ reason: o.authFailure });
      else if (o.reason === 'stale-password') this.metrics.authFailures.inc({ reason: 'previous-password' });
    }
  }

  private transactionKey(req: ValidRequest): string | null {
    const top = req.vias[0];
    const branch = top?.params.branch;
    if (top === undefined || typeof branch !== 'string') return null;
    return ServerTransactions.key(branch, `${top.host}:${top.port ?? ''}`, req.method);
  }

  private nextTag(): string {
    return this.tagPrefix + (this.tagCounter++).toString(36);
  }

  private respond(
    req: Answerable,
    peer: Peer,
    txKey: string | null,
    started: number,
    status: number,
    reason: string,
    headers: ReadonlyArray<readonly [string, string]>,
  ): void {
    const data = this.reply(req, peer, status, reason, headers);
    if (txKey !== null) {
      if (data === null) this.options.transactions.abandon(txKey);
      else this.options.transactions.complete(txKey, data, started);
    }
  }

  /** Builds, sends and counts one response; null when it could not be routed. */
  private reply(
    req: Answerable,
    peer: Peer,
    status: number,
    reason: string,
    extra: ReadonlyArray<readonly [string, string]> | null,
  ): Buffer | null {
    const route = routeForResponse(req.vias, peer);
    if (route === null) {
      this.metrics.dropped.inc({ reason: 'unroutable' });
      return null;
    }
    const data = buildResponse(req, peer, status, reason, {
      toTag: this.nextTag(),
      headers: extra ?? [],
      server: this.options.serverName,
    });
    this.sender.send(peer, route, data);
    this.metrics.responsesBy(String(status)).inc();
    return data;
  }

  private resend(req: Answerable, peer: Peer, data: Buffer): void {
    const route = routeForResponse(req.vias, peer);
    if (route !== null) this.sender.send(peer, route, data);
  }
}

function answerableOf(req: ValidRequest): Answerable {
  return { headers: req.message.headers, vias: req.vias, toHasTag: 'tag' in req.to.params };
}
