/**
 * The Registrar end to end over one Store adapter: every rule of the registrar core, fed with parsed REGISTER text.
 * Run once per adapter (registrar.memory.test.ts, registrar.redis.test.ts).
 */
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lookup } from '../../src/registrar/location.js';
import { Nonces, singleKey } from '../../src/registrar/nonce.js';
import type { Store } from '../../src/store/types.js';
import { answer, parseAuthParams, parseChallenge } from '../helpers/digest-client.js';
import { registerText } from '../helpers/sip-text.js';
import {
  DOMAIN,
  Harness,
  OTHER_DOMAIN,
  PEER,
  credentialsFor,
  header,
  headerNames,
  must,
  sendTo,
} from './registrar-harness.js';

const PW = 'correct horse battery';
const OTHER = { transport: 'udp' as const, address: '198.51.100.77', port: 5080 };

/** A Store whose chosen methods are replaced; everything else goes to `base`. */
export function overrideStore(base: Store, over: Partial<Store>): Store {
  return new Proxy(base, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in over) return (over as Record<string, unknown>)[prop];
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export function registrarSuite(name: string, makeStore: () => Promise<Store>): void {
  describe(`Registrar over ${name}`, () => {
    let store: Store;
    let h: Harness;
    let now: number;

    beforeEach(async () => {
      store = await makeStore();
      h = new Harness(store);
      now = Date.now();
      await h.addUser('alice', PW);
    });
    afterEach(async () => {
      await store.close();
    });

    describe('challenge', () => {
      it('by default answers an unauthenticated REGISTER with one WWW-Authenticate: MD5, qop="auth"', async () => {
        const r = must(await h.phone('alice', PW).send({}, now));
        expect(r).toMatchObject({ status: 401, reason: 'Unauthorized', outcome: { kind: 'challenged' } });
        const [only, ...more] = header(r, 'WWW-Authenticate');
        expect(more).toEqual([]);
        expect(only).toMatch(
          /^Digest realm="example\.test", nonce="[^"]+", opaque="[^"]+", algorithm=MD5, qop="auth"$/,
        );
      });

      it('a domain that opts in gets one WWW-Authenticate per algorithm, in its order, one nonce', async () => {
        const modern = new Harness(store, { domainAlgorithms: { [DOMAIN]: ['SHA-256', 'MD5'] } });
        const r = must(await modern.phone('alice', PW).send({}, now));
        const ch = header(r, 'WWW-Authenticate').map(parseChallenge);
        expect(ch.map((c) => c.algorithm)).toEqual(['SHA-256', 'MD5']);
        for (const c of ch) {
          expect(c.realm).toBe(DOMAIN);
          expect(c.qop).toContain('auth');
          expect(c.opaque).not.toBeNull();
          expect(c.stale).toBe(false);
        }
        expect(ch[0]?.nonce).toBe(ch[1]?.nonce);
        expect(await store.getBindings('alice@example.test', now)).toEqual([]);
      });

      it("uses the account's own algorithm order when it has one", async () => {
        await h.addUser('old', PW, { algorithms: ['MD5'] });
        const r = must(await h.phone('old', PW).send({}, now));
        expect(header(r, 'WWW-Authenticate').map((v) => parseChallenge(v).algorithm)).toEqual(['MD5']);
      });

      it('the realm is the domain of the AOR', async () => {
        await h.addUser('bob', PW, { domain: OTHER_DOMAIN });
        const r = must(await h.phone('bob', PW, PEER, OTHER_DOMAIN).send({}, now));
        expect(parseChallenge(header(r, 'WWW-Authenticate')[0] ?? '').realm).toBe(OTHER_DOMAIN);
      });
    });

    describe('successful registration', () => {
      it.each(['SHA-256', 'MD5'])('registers answering the %s challenge', async (alg) => {
        const modern = new Harness(store, { domainAlgorithms: { [DOMAIN]: ['SHA-256', 'MD5'] } });
        const p = modern.phone('alice', PW);
        const first = must(await p.send({}, now));
        const chosen = header(first, 'WWW-Authenticate')
          .map(parseChallenge)
          .find((c) => c.algorithm === alg);
        p.challenge = chosen ?? null;
        const r = must(await p.send({ authorization: p.authorization() }, now));
        expect(r).toMatchObject({ status: 200, outcome: { kind: 'registered', added: 1, refreshed: 0, removed: 0 } });
      });

      it('accepts SHA-512-256 when the account offers it', async () => {
        await h.addUser('modern', PW, { algorithms: ['SHA-512-256'] });
        const r = await h.phone('modern', PW).register({}, now);
        expect(r.status).toBe(200);
      });

      it('a missing algorithm means MD5', async () => {
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const auth = p.authorization().replace(/, algorithm=MD5/, '');
        expect(auth).not.toMatch(/algorithm/);
        expect(must(await p.send({ authorization: auth }, now)).status).toBe(200);
      });

      it('of several Authorization headers, uses the one for our realm', async () => {
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const proxyRealm = p.authorization({ realm: 'proxy.example.net', password: 'another secret' });
        const ours = p.authorization();
        const r = must(await p.send({ authorization: [proxyRealm, ours] }, now));
        expect(r.status).toBe(200);
      });

      it('200 lists every binding with its remaining expires, a Date, and Authentication-Info without nextnonce', async () => {
        const p = h.phone('alice', PW);
        const r = await p.register({ expires: 600 }, now);
        expect(r.status).toBe(200);
        expect(header(r, 'Contact')).toEqual([`${p.contact};expires=600`]);
        const date = header(r, 'Date')[0] ?? '';
        expect(date).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
        const info = parseAuthParams(header(r, 'Authentication-Info')[0] ?? '');
        expect(info.nextnonce).toBeUndefined();
        expect(info.rspauth).toMatch(/^[0-9a-f]{32}$/);

        // A second phone of the same AOR: the 200 lists both, each with what is left of it.
        const q = h.phone('alice', PW, OTHER);
        const r2 = await q.register({ contacts: [`${q.contact};q=0.5`] }, now + 100_000);
        expect(header(r2, 'Contact').sort()).toEqual(
          [`${p.contact};expires=500`, `${q.contact};q=0.5;expires=3600`].sort(),
        );
        const bindings = await store.getBindings('alice@example.test', now + 100_000);
        expect(bindings).toHaveLength(2);
        const located = await lookup(store, 'alice@example.test', now + 100_000);
        expect(located.map((l) => l.q)).toEqual([null, 0.5]);
      });

      it('stores source, transport, connection, user agent and times', async () => {
        const tcp = { transport: 'tcp' as const, address: '192.0.2.55', port: 40123, connectionId: 7 };
        await h.phone('alice', PW, tcp).register({ userAgent: 'Phone/1.0' }, now);
        const [b] = await store.getBindings('alice@example.test', now);
        expect(b).toMatchObject({
          source: { transport: 'tcp', address: '192.0.2.55', port: 40123, connectionId: 7 },
          userAgent: 'Phone/1.0',
          registeredAt: now,
          updatedAt: now,
        });
      });

      it('refreshes in one round trip: same nonce, higher nc', async () => {
        const p = h.phone('alice', PW);
        p.challenge = parseChallenge(header(must(await p.send({}, now)), 'WWW-Authenticate')[0] ?? '');
        const nonce = p.challenge.nonce;
        expect((await p.refresh({}, now)).status).toBe(200);
        // Keep the original nonce (ignore nextnonce) and raise nc.
        p.challenge = { ...p.challenge, nonce };
        p.nc = 1;
        const r = await p.refresh({}, now + 1000);
        expect(r).toMatchObject({ status: 200, outcome: { kind: 'registered', refreshed: 1, added: 0 } });
      });

      it('with nextNonce on, Authentication-Info carries a nextnonce that works for the next refresh', async () => {
        const h = new Harness(store, { nextNonce: true });
        const p = h.phone('alice', PW);
        const first = await p.register({}, now);
        expect(parseAuthParams(header(first, 'Authentication-Info')[0] ?? '').nextnonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
        const r = await p.refresh({}, now + 1000); // Phone switched to nextnonce with nc=1
        expect(r.status).toBe(200);
      });

      it('a REGISTER without Contact fetches the bindings and changes nothing', async () => {
        const p = h.phone('alice', PW);
        await p.register({}, now);
        const r = await p.refresh({ contacts: [] }, now + 10_000);
        expect(r).toMatchObject({ status: 200, outcome: { kind: 'registered', added: 0, refreshed: 0, removed: 0 } });
        expect(header(r, 'Contact')).toEqual([`${p.contact};expires=3590`]);
      });

      it('Contact * with Expires: 0 removes every binding', async () => {
        await h.phone('alice', PW, OTHER).register({}, now);
        const p = h.phone('alice', PW);
        await p.register({}, now);
        const r = await p.refresh({ contacts: ['*'], expires: 0 }, now + 1);
        expect(r).toMatchObject({ status: 200, outcome: { kind: 'registered', removed: 2 } });
        expect(header(r, 'Contact')).toEqual([]);
        expect(await store.getBindings('alice@example.test', now + 1)).toEqual([]);
      });

      it('expires=0 removes one binding', async () => {
        const p = h.phone('alice', PW);
        await p.register({}, now);
        const r = await p.refresh({ contacts: [`${p.contact};expires=0`] }, now + 1);
        expect(r.outcome).toEqual({ kind: 'registered', added: 0, refreshed: 0, removed: 1 });
      });

      it('echoes Path with Supported: path and stores it', async () => {
        const path = '<sip:edge.example.test;lr>';
        const r = await h.phone('alice', PW).register(
          {
            extra: [
              ['Path', path],
              ['Supported', 'path'],
            ],
          },
          now,
        );
        expect(header(r, 'Path')).toEqual([path]);
        expect(header(r, 'Supported')).toEqual(['path']);
        expect((await store.getBindings('alice@example.test', now))[0]?.path).toEqual([path]);
      });

      it('answers Require: outbound to a flow registration of a UA supporting outbound (RFC 5626)', async () => {
        const p = h.phone('alice', PW);
        const r = await p.register(
          {
            contacts: [`${p.contact};+sip.instance="<urn:uuid:0c8b1a2e-1f1f-4c4c-9a9a-000000000001>";reg-id=1`],
            extra: [['Supported', 'path, outbound']],
          },
          now,
        );
        expect(r.status).toBe(200);
        expect(header(r, 'Require')).toEqual(['outbound']);
      });

      it('clamps a long expiry to the maximum', async () => {
        const r = await h.phone('alice', PW).register({ expires: 100_000 }, now);
        expect(header(r, 'Contact')[0]).toMatch(/;expires=7200$/);
      });
    });

    describe('request checks', () => {
      it('404 for a Request-URI domain we do not serve', async () => {
        const r = must(await h.phone('alice', PW).send({ requestUri: 'sip:elsewhere.test' }, now));
        expect(r).toMatchObject({ status: 404, outcome: { kind: 'rejected', reason: 'domain' } });
      });

      it('404 for a To domain we do not serve', async () => {
        const r = must(await h.phone('alice', PW).send({ to: '<sip:alice@elsewhere.test>' }, now));
        expect(r.status).toBe(404);
      });

      it('416 for a non-SIP Request-URI', async () => {
        const r = must(await h.phone('alice', PW).send({ requestUri: 'tel:+15551234' }, now));
        expect(r.status).toBe(416);
      });

      it('420 with Unsupported for an unknown Require option tag; path is fine', async () => {
        const r = must(await h.phone('alice', PW).send({ extra: [['Require', 'path, foo']] }, now));
        expect(r).toMatchObject({ status: 420, outcome: { kind: 'rejected', reason: 'extension' } });
        expect(header(r, 'Unsupported')).toEqual(['foo']);
        const ok = must(await h.phone('alice', PW).send({ extra: [['Require', 'path']] }, now));
        expect(ok.status).toBe(401);
      });

      it('423 with Min-Expires for a too brief interval, nothing stored', async () => {
        const r = await h.phone('alice', PW).register({ expires: 10 }, now);
        expect(r).toMatchObject({ status: 423, reason: 'Interval Too Brief' });
        expect(header(r, 'Min-Expires')).toEqual(['60']);
        expect(await store.getBindings('alice@example.test', now)).toEqual([]);
      });

      it('400 for a junk Expires header or Contact expires', async () => {
        expect((await h.phone('alice', PW).register({ expires: 'soon' }, now)).status).toBe(400);
        const p = h.phone('alice', PW);
        expect((await p.register({ contacts: [`${p.contact};expires=later`] }, now)).status).toBe(400);
        expect(await store.getBindings('alice@example.test', now)).toEqual([]);
      });

      it('400 for a malformed Authorization header, not counted', async () => {
        const r = must(await h.phone('alice', PW).send({ authorization: 'Digest' }, now));
        expect(r.status).toBe(400);
        expect(await h.failures('alice@example.test', now)).toBe(0);
      });

      it('credentials of another scheme are no answer: challenged', async () => {
        const r = must(await h.phone('alice', PW).send({ authorization: 'Bearer abc.def' }, now));
        expect(r.status).toBe(401);
      });

      it('400 for Contact * without Expires: 0', async () => {
        const r = await h.phone('alice', PW).register({ contacts: ['*'] }, now);
        expect(r.status).toBe(400);
      });

      it('400 for a non-SIP contact, nothing stored', async () => {
        const p = h.phone('alice', PW);
        const r = await p.register({ contacts: [p.contact, '<tel:+15551234>'] }, now);
        expect(r.status).toBe(400);
        expect(await store.getBindings('alice@example.test', now)).toEqual([]);
      });

      it('500 for a REGISTER out of order (same Call-ID, CSeq not higher); the binding is unchanged', async () => {
        const p = h.phone('alice', PW);
        await p.register({ expires: 600 }, now);
        p.cseq -= 2; // a delayed, older request of the same Call-ID
        const r = await p.refresh({ expires: 3000 }, now + 1000);
        expect(r).toMatchObject({ status: 500, outcome: { kind: 'rejected', reason: 'order' } });
        const [b] = await store.getBindings('alice@example.test', now + 1000);
        expect(b?.expiresAt).toBe(now + 600_000);
      });

      it('403 beyond the contact limit, nothing changed', async () => {
        await h.addUser('solo', PW, { maxContacts: 1 });
        await h.phone('solo', PW).register({}, now);
        const r = await h.phone('solo', PW, OTHER).register({}, now);
        expect(r).toMatchObject({ status: 403, outcome: { kind: 'rejected', reason: 'contacts' } });
        const bindings = await store.getBindings('solo@example.test', now);
        expect(bindings.map((b) => b.source.address)).toEqual([PEER.address]);
      });

      it('400 when the digest uri is not the Request-URI', async () => {
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const r = must(await p.send({ authorization: p.authorization({}, 'sip:other.test') }, now));
        expect(r.status).toBe(400);
      });

      it('400 for qop without nc or cnonce', async () => {
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const auth = p.authorization().replace(/, nc=[0-9a-f]+/, '');
        const r = must(await p.send({ authorization: auth }, now));
        expect(r).toMatchObject({ status: 400, reason: 'Bad nc or cnonce' });
        expect(await h.failures('alice@example.test', now)).toBe(0);
      });
    });

    describe('authentication failures', () => {
      it('wrong password: 403, counted', async () => {
        const r = await h.phone('alice', 'wrong').register({}, now);
        expect(r).toMatchObject({
          status: 403,
          reason: 'Forbidden',
          headers: [],
          outcome: { kind: 'rejected', reason: 'auth' },
        });
        expect(await h.failures('alice@example.test', now)).toBe(1);
      });

      it('an unknown user is challenged and fails exactly like a wrong password', async () => {
        const known = must(await h.phone('alice', 'x').send({}, now));
        const unknown = must(await h.phone('nobody', 'x').send({}, now));
        expect(unknown.status).toBe(known.status);
        expect(headerNames(unknown)).toEqual(headerNames(known));
        const strip = (v: string) => v.replace(/nonce="[^"]*"/, '');
        expect(header(unknown, 'WWW-Authenticate').map(strip)).toEqual(header(known, 'WWW-Authenticate').map(strip));

        const wrong = await h.phone('alice', 'x').register({}, now);
        const nobody = await h.phone('nobody', 'x').register({}, now);
        expect(nobody.status).toBe(wrong.status);
        expect(nobody.reason).toBe(wrong.reason);
        expect(headerNames(nobody)).toEqual(headerNames(wrong));
        // The internal failure reason (for the metrics counter) differs; what reaches the wire does not.
        const { authFailure: _a, ...nobodyOutcome } = nobody.outcome as { authFailure?: string };
        const { authFailure: _b, ...wrongOutcome } = wrong.outcome as { authFailure?: string };
        expect(nobodyOutcome).toEqual(wrongOutcome);
      });

      it('a right answer on an expired nonce: 401 stale=true, not counted', async () => {
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const later = now + h.config.nonceLifetimeMs + 1000;
        const r = must(await p.send({ authorization: p.authorization() }, later));
        expect(r).toMatchObject({ status: 401, outcome: { kind: 'challenged', stale: true } });
        const chs = header(r, 'WWW-Authenticate').map(parseChallenge);
        expect(chs.length).toBe(1);
        expect(chs.every((c) => c.stale)).toBe(true);
        expect(await h.failures('alice@example.test', later)).toBe(0);
        expect(must(await p.send({ authorization: p.authorization() }, later)).status).toBe(200);
      });

      /** The answer's form cannot be accepted: a fresh 401 always; stale and uncounted when the answer is right. */
      const rechallenged = async (
        form: string,
        answerWith: (p: ReturnType<Harness['phone']>) => string,
        opts: { checkable: boolean } = { checkable: true },
      ): Promise<void> => {
        const aor = 'alice@example.test';
        const right = h.phone('alice', PW);
        await right.send({}, now);
        const r = must(await right.send({ authorization: answerWith(right) }, now));
        expect(r.status, form).toBe(401);
        expect(header(r, 'WWW-Authenticate').map(parseChallenge)[0]?.stale, form).toBe(opts.checkable);
        expect(await h.failures(aor, now), form).toBe(0);
        // The phone answers the fresh challenge and registers.
        expect(must(await right.send({ authorization: right.authorization() }, now)).status, form).toBe(200);

        const wrong = h.phone('alice', 'not the password');
        await wrong.send({}, now);
        const w = must(await wrong.send({ authorization: answerWith(wrong) }, now));
        expect(w.status, form).toBe(401);
        expect(header(w, 'WWW-Authenticate').map(parseChallenge)[0]?.stale, form).toBe(false);
        // A wrong answer counts whatever its form, when it can be checked at all.
        expect(await h.failures(aor, now), form).toBe(opts.checkable ? 1 : 0);
      };

      it('an expired nonce', () =>
        rechallenged('expired', (p) => {
          p.challenge = {
            ...p.challenge!,
            nonce: new Nonces(h.config.nonceKeys, 1).issue(now - h.config.nonceLifetimeMs - 10_000),
          };
          return p.authorization();
        }));

      it('a forged nonce', () =>
        rechallenged('forged', (p) => p.authorization({ nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })));

      it('a nonce issued under another secret (another instance, or before a restart)', () =>
        rechallenged('foreign', (p) => {
          const other = new Nonces(singleKey(Buffer.alloc(32, 9)), h.config.nonceLifetimeMs);
          return p.authorization({ nonce: other.issue(now) });
        }));

      it('qop missing (the RFC 2069 form linphone sends after a nextnonce)', () =>
        rechallenged('no qop', (p) => p.authorization({ qop: null })));

      it('qop=auth-int, which is not offered', () =>
        rechallenged('auth-int', (p) => p.authorization({ qop: 'auth-int' })));

      it('an algorithm not offered to the account', () =>
        rechallenged('SHA-256', (p) => p.authorization({ algorithm: 'SHA-256' })));

      it('a -sess algorithm, not offered', () =>
        rechallenged('MD5-sess', (p) => p.authorization({ algorithm: 'MD5-sess' })));

      it('an unknown algorithm cannot be checked: challenged, never counted', () =>
        rechallenged('SHA-1', (p) => p.authorization().replace('algorithm=MD5', 'algorithm=SHA-1'), {
          checkable: false,
        }));

      it('an answer for another realm cannot be checked: challenged, never counted', () =>
        rechallenged('realm', (p) => p.authorization({ realm: OTHER_DOMAIN }), { checkable: false }));

      it('an unknown qop cannot be checked: challenged, never counted', () =>
        rechallenged('qop', (p) => p.authorization().replace('qop=auth', 'qop=auth-conf'), { checkable: false }));

      it('a replayed (nonce, nc) with a right answer: 401 stale=true, not counted (SIP.js re-sends it)', async () => {
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const auth = p.authorization();
        expect(must(await p.send({ authorization: auth }, now)).status).toBe(200);
        for (let i = 0; i < 10; i++) {
          const r = must(await p.send({ authorization: auth }, now + 10 + i));
          expect(r).toMatchObject({ status: 401, outcome: { kind: 'challenged', stale: true } });
        }
        expect(await h.failures('alice@example.test', now)).toBe(0);
        expect(must(await p.send({ authorization: p.authorization() }, now + 100)).status).toBe(200);
      });

      it('an unknown user with a foreign nonce is challenged and counted like a known one', async () => {
        const foreign = new Nonces(singleKey(Buffer.alloc(32, 9)), h.config.nonceLifetimeMs).issue(now);
        const nobody = h.phone('nobody', 'x');
        await nobody.send({}, now);
        const r = must(await nobody.send({ authorization: nobody.authorization({ nonce: foreign }) }, now));
        expect(r).toMatchObject({ status: 401, outcome: { kind: 'challenged', authFailure: 'unknown-user' } });
      });

      it("another user name than the AOR's auth ID is refused (only its own AOR)", async () => {
        await h.addUser('bob', 'bobs password');
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const r = must(
          await p.send({ authorization: p.authorization({ username: 'bob', password: 'bobs password' }) }, now),
        );
        expect(r).toMatchObject({ status: 403, reason: 'Forbidden' });
      });

      it('a separate auth ID is what the phone authenticates with', async () => {
        await h.addUser('carol', 'carols pw', { authId: 'c-auth-77' });
        const p = h.phone('carol', 'carols pw');
        await p.send({}, now);
        const r = must(await p.send({ authorization: p.authorization({ username: 'c-auth-77' }) }, now));
        expect(r.status).toBe(200);
      });

      it('a disabled account: 403', async () => {
        await h.addUser('gone', PW, { enabled: false });
        const r = await h.phone('gone', PW).register({}, now);
        expect(r).toMatchObject({ status: 403, outcome: { kind: 'rejected', reason: 'disabled' } });
      });

      it('the previous password during the grace period: 403, not counted, device recorded', async () => {
        const aor = 'alice@example.test';
        const fresh = credentialsFor('alice', DOMAIN, 'the new password');
        await store.setCredentials(
          aor,
          { ...fresh, previousHa1: credentialsFor('alice', DOMAIN, PW).ha1, previousUntil: now + 3_600_000 },
          now,
        );
        const r = await h.phone('alice', PW).register({}, now);
        expect(r).toMatchObject({ status: 403, outcome: { kind: 'rejected', reason: 'stale-password' } });
        expect(await h.failures(aor, now)).toBe(0);
        expect((await store.getAccount(aor))?.account.staleDevice).toMatchObject({ address: PEER.address });
        // After the grace period it is just a wrong password.
        const later = await h.phone('alice', PW).register({}, now + 3_600_001);
        expect(later).toMatchObject({ status: 403, outcome: { kind: 'rejected', reason: 'auth' } });
        expect((await h.phone('alice', 'the new password').register({}, now)).status).toBe(200);
      });
    });

    describe('short-lived credentials (TURN REST pattern)', () => {
      const SECRET = 'web-credential-secret-0123456789';
      /** Minted independently of src/registrar/ephemeral.ts, by the documented formula. */
      const mint = (expiresAtMs: number, authId = 'alice') => {
        const username = `${Math.floor(expiresAtMs / 1000)}:${authId}`;
        return { username, password: createHmac('sha1', SECRET).update(username).digest('base64') };
      };
      beforeEach(async () => {
        expect(await store.setCredentialSecret('alice@example.test', SECRET)).toBe(true);
      });

      it('register with plain Digest, and the binding never outlives the credentials', async () => {
        const c = mint(now + 120_000);
        const p = h.phone('alice', c.password);
        await p.send({}, now);
        const r = must(await p.send({ authorization: p.authorization({ username: c.username }), expires: 3600 }, now));
        expect(r.status).toBe(200);
        const [b] = await store.getBindings('alice@example.test', now);
        expect(b?.expiresAt).toBe(Math.floor((now + 120_000) / 1000) * 1000);
        expect(header(r, 'Contact')[0]).toMatch(/;expires=1[12][0-9]$/);
        expect(await h.failures('alice@example.test', now)).toBe(0);
      });

      it('expired credentials are a failed authentication, counted', async () => {
        const c = mint(now - 1000);
        const p = h.phone('alice', c.password);
        await p.send({}, now);
        const r = must(await p.send({ authorization: p.authorization({ username: c.username }) }, now));
        expect(r).toMatchObject({ status: 403, outcome: { kind: 'rejected', reason: 'auth' } });
        expect(await h.failures('alice@example.test', now)).toBe(1);
      });

      it('a forged password, another auth ID or a rotated secret fail like a wrong password', async () => {
        const c = mint(now + 120_000);
        for (const [username, password] of [
          [c.username, 'not-derived'],
          [mint(now + 120_000, 'bob').username, mint(now + 120_000, 'bob').password],
        ] as const) {
          const p = h.phone('alice', password);
          await p.send({}, now);
          expect(must(await p.send({ authorization: p.authorization({ username }) }, now)).status).toBe(403);
        }
        await store.setCredentialSecret('alice@example.test', 'a-new-secret-after-rotation-xyz');
        h.registrar.forget('alice@example.test');
        const p = h.phone('alice', c.password);
        await p.send({}, now);
        expect(must(await p.send({ authorization: p.authorization({ username: c.username }) }, now)).status).toBe(403);
        // The account's own password still works.
        expect((await h.phone('alice', PW).register({}, now)).status).toBe(200);
      });
    });

    describe('ip accounts', () => {
      it('registers from an allowed address without a challenge', async () => {
        await h.addUser('trunk', '', { authType: 'ip', allowedAddresses: ['192.0.2.0/24'] });
        const r = must(await h.phone('trunk', '').send({}, now));
        expect(r).toMatchObject({ status: 200, outcome: { kind: 'registered', added: 1 } });
        expect(header(r, 'Authentication-Info')).toEqual([]);
      });

      it('403 from any other address', async () => {
        await h.addUser('trunk', '', { authType: 'ip', allowedAddresses: ['192.0.2.0/24'] });
        const r = must(await h.phone('trunk', '', OTHER).send({}, now));
        expect(r).toMatchObject({ status: 403, outcome: { kind: 'rejected', reason: 'forbidden' } });
      });
    });

    describe('lockouts', () => {
      it('locks the extension after 5 failures; then 403 even with the right password, and logs it', async () => {
        for (let i = 0; i < 5; i++)
          expect((await h.phone('alice', 'guess' + i, OTHER).register({}, now)).status).toBe(403);
        const lockLog = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'lockout');
        expect(lockLog).toMatchObject({ kind: 'extension', aor: 'alice@example.test', source: OTHER.address });
        const r = await h.phone('alice', PW, { ...OTHER, address: '198.51.100.78' }).register({}, now + 1000);
        expect(r).toMatchObject({ status: 403, outcome: { kind: 'rejected', reason: 'locked' } });
      });

      it('a locked extension still refreshes from an address holding one of its live bindings', async () => {
        const phone = h.phone('alice', PW);
        expect((await phone.register({}, now)).status).toBe(200);
        for (let i = 0; i < 5; i++) await h.phone('alice', 'guess' + i, OTHER).register({}, now + 10);
        expect((await h.phone('alice', PW, OTHER).register({}, now + 20)).status).toBe(403);
        expect((await phone.register({}, now + 30)).status).toBe(200);
      });

      it('a success resets the failure count', async () => {
        for (let i = 0; i < 4; i++) await h.phone('alice', 'guess', OTHER).register({}, now);
        expect(await h.failures('alice@example.test', now)).toBe(4);
        expect((await h.phone('alice', PW).register({}, now)).status).toBe(200);
        expect(await h.failures('alice@example.test', now)).toBe(0);
        for (let i = 0; i < 4; i++) await h.phone('alice', 'guess', OTHER).register({}, now);
        expect((await h.phone('alice', PW, OTHER).register({}, now)).status).toBe(200);
      });

      it('the first unauthenticated REGISTER and a stale nonce are not failures', async () => {
        for (let i = 0; i < 10; i++) expect(must(await h.phone('alice', PW).send({}, now)).status).toBe(401);
        expect(await h.failures('alice@example.test', now)).toBe(0);
      });

      it('ignores a source address after 20 failures across users (no reply at all)', async () => {
        for (let i = 0; i < 20; i++) {
          const r = await h.phone(`user${i}`, 'guess', OTHER).register({}, now);
          expect(r.status).toBe(403);
        }
        expect(await h.phone('alice', PW, OTHER).send({}, now + 1)).toBeNull();
        // Other addresses are unaffected.
        expect((await h.phone('alice', PW).register({}, now + 1)).status).toBe(200);
      });

      it('a lock taken before the address became trusted is ignored too', async () => {
        for (let i = 0; i < 20; i++) await h.phone(`user${i}`, 'guess', OTHER).register({}, now);
        expect(await h.phone('alice', PW, OTHER).send({}, now + 1)).toBeNull();
        const t = new Harness(store, { trustedNetworks: ['198.51.100.77'] });
        expect(must(await t.phone('alice', PW, OTHER).send({}, now + 1)).status).toBe(401);
      });

      it('never locks an address in the trusted networks', async () => {
        const t = new Harness(store, { trustedNetworks: ['198.51.100.0/24'] });
        for (let i = 0; i < 25; i++) await t.phone(`user${i}`, 'guess', OTHER).register({}, now);
        expect(must(await t.phone('alice', PW, OTHER).send({}, now + 1)).status).toBe(401);
      });
    });

    describe('store trouble', () => {
      it('a store that rejects gives 503 with Retry-After, never 200', async () => {
        const p = h.phone('alice', PW);
        await p.send({}, now);
        const broken = new Harness(
          overrideStore(store, {
            commitRegistration: () => Promise.reject(new Error('store down')),
          }),
          { nonceKeys: h.config.nonceKeys },
        );
        const auth = p.authorization();
        const r = must(await sendTo(broken.registrar, registerText(p.spec({ authorization: auth })), PEER, now));
        expect(r).toMatchObject({ status: 503, outcome: { kind: 'rejected', reason: 'store' } });
        expect(header(r, 'Retry-After')).toEqual(['5']);
        const down = new Harness(overrideStore(store, { loadRegistration: () => Promise.reject(new Error('down')) }));
        const r2 = must(await down.phone('alice', PW).send({}, now));
        expect(r2.status).toBe(503);
      });

      it('retries the commit when another REGISTER moved the version', async () => {
        let conflicts = 1;
        const racy = new Harness(
          overrideStore(store, {
            commitRegistration: (c) => (conflicts-- > 0 ? Promise.resolve('conflict') : store.commitRegistration(c)),
          }),
        );
        const r = await racy.phone('alice', PW).register({}, now);
        expect(r.status).toBe(200);
        expect(conflicts).toBe(-1);
      });
    });

    it('never logs a password, an HA1, a response or an Authorization value', async () => {
      const p = h.phone('alice', PW);
      await p.send({}, now);
      const auth = p.authorization();
      await p.send({ authorization: auth }, now);
      await h.phone('alice', 'wrong secret').register({}, now);
      for (let i = 0; i < 5; i++) await h.phone('alice', 'wrong secret').register({}, now);
      const text = h.logs.join('\n');
      const response = parseAuthParams(auth.replace(/^Digest /, '')).response ?? 'x';
      const ha1s = Object.values(credentialsFor('alice', DOMAIN, PW).ha1);
      for (const secret of [PW, 'wrong secret', response, auth, ...ha1s]) expect(text).not.toContain(secret);
      expect(h.logs.length).toBeGreaterThan(0);
    });

    it('the digest client answers independently of src/sip/digest.ts (sanity: a tampered response fails)', async () => {
      const p = h.phone('alice', PW);
      await p.send({}, now);
      const ch = p.challenge;
      if (ch === null) throw new Error('no challenge');
      const good = answer(ch, { username: 'alice', password: PW, method: 'REGISTER', uri: `sip:${DOMAIN}`, nc: 1 });
      const bad = good.replace(/response="([0-9a-f])/, (_m, c: string) => `response="${c === '0' ? '1' : '0'}`);
      expect(must(await p.send({ authorization: bad }, now)).status).toBe(403);
    });
  });
}
