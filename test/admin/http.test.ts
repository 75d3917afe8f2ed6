import { createHash, createHmac, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { call, fail, seedBinding, startAdmin, TOKEN, type AdminFixture } from './fixture.js';

let redis: RedisServerHandle | null = null;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const adapters: Array<[string, () => Store]> = [
  ['MemoryStore', () => new MemoryStore()],
  [
    'RedisStore',
    () => new RedisStore((redis as RedisServerHandle).url, { keyPrefix: `t${randomBytes(4).toString('hex')}:` }),
  ],
];

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const enc = encodeURIComponent;
type Json = Record<string, unknown>;

describe.each(adapters)('admin HTTP API over %s', (_name, makeStore) => {
  let admin: AdminFixture;
  let store: Store;
  beforeEach(async () => {
    store = makeStore();
    admin = await startAdmin(store);
  });
  afterEach(async () => {
    await admin.close();
    await store.close();
  });
  const api = (method: string, path: string, body?: unknown, opts?: Parameters<typeof call>[4]) =>
    call(admin.url, method, path, body, opts);

  describe('authentication', () => {
    const routes: Array<[string, string, unknown?]> = [
      ['POST', '/api/v1/accounts', { username: 'x' }],
      ['POST', '/api/v1/accounts/import', '{"username":"x"}\n'],
      ['GET', '/api/v1/accounts'],
      ['GET', '/api/v1/accounts/x'],
      ['PATCH', '/api/v1/accounts/x', { enabled: false }],
      ['PUT', '/api/v1/accounts/x/password', {}],
      ['DELETE', '/api/v1/accounts/x'],
      ['GET', '/api/v1/accounts/x/bindings'],
      ['DELETE', '/api/v1/accounts/x/bindings'],
      ['GET', '/api/v1/blacklist'],
      ['DELETE', '/api/v1/blacklist'],
      ['DELETE', '/api/v1/blacklist/extensions/x'],
      ['DELETE', '/api/v1/blacklist/addresses/192.0.2.1'],
      ['POST', '/api/v1/nonce-keys/rotate'],
      ['POST', '/api/v1/accounts/x/credentials', {}],
      ['POST', '/api/v1/accounts/x/credential-secret'],
      ['GET', '/api/v1/audit'],
      ['GET', '/api/v1/no-such-route'],
    ];
    it('answers 401 JSON on every /api/v1 route without a token, with a wrong one, or a malformed header', async () => {
      for (const [method, path, body] of routes) {
        const ct = path.endsWith('/import') ? 'application/x-ndjson' : undefined;
        for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
          const r = await api(method, path, body, { token, contentType: ct });
          expect(r.status, `${method} ${path} token=${String(token)}`).toBe(401);
          expect(r.body).toEqual({ error: expect.any(String) });
          expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
        }
      }
      const basic = await fetch(`${admin.url}/api/v1/accounts`, { headers: { authorization: `Basic ${TOKEN}` } });
      expect(basic.status).toBe(401);
      // Nothing was created by the refused requests.
      expect(await store.getAccount('x@example.com')).toBeNull();
    });

    it('serves /metrics, /healthz, /readyz and /api/docs without a token', async () => {
      const metrics = await api('GET', '/metrics', undefined, { token: null });
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(metrics.text).toContain('sipreg_up 1');
      const health = await api('GET', '/healthz', undefined, { token: null });
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ ok: true, store: store.kind });
      expect((await api('GET', '/readyz', undefined, { token: null })).status).toBe(200);
      const docs = await api('GET', '/api/docs', undefined, { token: null });
      expect(docs.status).toBe(200);
      const doc = docs.body as { openapi: string; paths: Record<string, Json> };
      expect(doc.openapi).toMatch(/^3\./);
      for (const p of [
        '/api/v1/accounts',
        '/api/v1/accounts/import',
        '/api/v1/accounts/{aor}',
        '/api/v1/accounts/{aor}/password',
        '/api/v1/accounts/{aor}/bindings',
        '/api/v1/blacklist',
        '/api/v1/blacklist/extensions/{aor}',
        '/api/v1/blacklist/addresses/{address}',
        '/metrics',
        '/healthz',
      ]) {
        expect(doc.paths[p], p).toBeDefined();
      }
    });
  });

  describe('accounts', () => {
    it('creates with a generated password shown once, never again, and no HA1 anywhere', async () => {
      const r = await api('POST', '/api/v1/accounts', { username: '1001' });
      expect(r.status).toBe(201);
      const body = r.body as { account: Json; password: string };
      expect(body.password).toMatch(/^[A-Za-z2-9]{24}$/);
      expect(body.account).toMatchObject({
        aor: '1001@example.com',
        username: '1001',
        domain: 'example.com',
        authId: '1001',
        enabled: true,
      });
      expect(r.headers.get('location')).toBe('/api/v1/accounts/1001%40example.com');
      const ha1 = md5(`1001:example.com:${body.password}`);
      expect(r.text).not.toContain(ha1);

      const texts: string[] = [];
      for (const path of ['/api/v1/accounts/1001', `/api/v1/accounts/${enc('1001@example.com')}`, '/api/v1/accounts']) {
        const g = await api('GET', path);
        expect(g.status).toBe(200);
        texts.push(g.text);
      }
      expect((JSON.parse(texts[0] as string) as Json).aor).toBe('1001@example.com');
      expect(texts[1]).toBe(texts[0]);
      for (const t of texts) {
        expect(t).not.toContain(body.password);
        expect(t).not.toContain(ha1);
        expect(t).not.toMatch(/ha1|credential|password"/i);
      }
      // Neither the password nor its HA1 reached a log line.
      const logs = admin.logs.join('\n');
      expect(logs).not.toContain(body.password);
      expect(logs).not.toContain(ha1);
      expect(logs).not.toContain(TOKEN);
    });

    it('creates with a given password (no password in the response), 409 on duplicates', async () => {
      const r = await api('POST', '/api/v1/accounts', {
        username: '1002',
        domain: 'other.example',
        authId: 'dev1002',
        password: 'given-password-77',
        maxContacts: 2,
        algorithms: ['MD5', 'SHA-256'],
      });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({
        account: expect.objectContaining({ aor: '1002@other.example', maxContacts: 2, algorithms: ['MD5', 'SHA-256'] }),
      });
      expect(r.text).not.toContain('given-password-77');
      const dup = await api('POST', '/api/v1/accounts', {
        username: '1002',
        domain: 'other.example',
        password: 'given-password-77',
      });
      expect(dup.status).toBe(409);
      expect(dup.body).toEqual({ error: expect.stringMatching(/exists/) });
    });

    it('400 naming the field on unknown fields, wrong types, bad values and bad JSON', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ username: 'x', colour: 'red' }, /colour/],
        [{ username: 5 }, /username/],
        [{}, /username/],
        [{ username: 'x', maxContacts: '3' }, /maxContacts/],
        [{ username: 'x', maxContacts: 500 }, /maxContacts/],
        [{ username: 'x', enabled: 'yes' }, /enabled/],
        [{ username: 'x', algorithms: ['SHA-1'] }, /algorithms/],
        [{ username: 'x', algorithms: [] }, /algorithms/],
        [{ username: 'x', authType: 'cert' }, /authType/],
        [{ username: 'x', password: 'short' }, /too short/],
        [{ username: 'bad@user' }, /username/],
        [{ username: 'x', domain: 'not-served.org' }, /domain/],
        [{ username: 'x', authType: 'ip' }, /allowedAddresses/],
        [{ username: 'x', authType: 'ip', allowedAddresses: ['10.0.0.0/33'] }, /allowedAddresses/],
      ];
      for (const [body, pattern] of cases) {
        const r = await api('POST', '/api/v1/accounts', body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect((r.body as { error: string }).error, JSON.stringify(body)).toMatch(pattern);
      }
      const badJson = await api('POST', '/api/v1/accounts', '{"username":', { contentType: 'application/json' });
      expect(badJson.status).toBe(400);
      expect(badJson.body).toEqual({ error: expect.any(String) });
      const badQuery = await api('GET', '/api/v1/accounts?limit=ten');
      expect(badQuery.status).toBe(400);
      expect((badQuery.body as { error: string }).error).toMatch(/limit/);
      const unknownQuery = await api('GET', '/api/v1/accounts?sort=aor');
      expect(unknownQuery.status).toBe(400);
      expect((unknownQuery.body as { error: string }).error).toMatch(/sort/);
      const badLimit = await api('GET', '/api/v1/accounts?limit=0');
      expect(badLimit.status).toBe(400);
      expect(await store.countAccounts()).toBe(0);
    });

    it('creates ip accounts', async () => {
      const r = await api('POST', '/api/v1/accounts', {
        username: 'pbx',
        authType: 'ip',
        allowedAddresses: ['192.0.2.0/24', '2001:db8::/32'],
      });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({
        account: expect.objectContaining({ authType: 'ip', allowedAddresses: ['192.0.2.0/24', '2001:db8::/32'] }),
      });
      const pw = await api('PUT', '/api/v1/accounts/pbx/password', {});
      expect(pw.status).toBe(400);
    });

    it('lists in pages with a cursor', async () => {
      for (const u of ['a1', 'a2', 'a3', 'a4', 'a5'])
        await api('POST', '/api/v1/accounts', { username: u, password: 'paging-password-1' });
      const first = await api('GET', '/api/v1/accounts?limit=2');
      const p1 = first.body as { items: Json[]; nextCursor: string | null };
      expect(p1.items.map((a) => a.aor)).toEqual(['a1@example.com', 'a2@example.com']);
      expect(p1.nextCursor).not.toBeNull();
      const seen = p1.items.map((a) => a.aor);
      let cursor = p1.nextCursor;
      while (cursor !== null) {
        const page = (await api('GET', `/api/v1/accounts?limit=2&cursor=${enc(cursor)}`)).body as {
          items: Json[];
          nextCursor: string | null;
        };
        seen.push(...page.items.map((a) => a.aor));
        cursor = page.nextCursor;
      }
      expect(seen).toEqual(['a1', 'a2', 'a3', 'a4', 'a5'].map((u) => `${u}@example.com`));
    });

    it('404 for unknown AORs and unknown domains on every account route', async () => {
      for (const [method, path, body] of [
        ['GET', '/api/v1/accounts/ghost'],
        ['GET', `/api/v1/accounts/${enc('ghost@example.com')}`],
        ['GET', `/api/v1/accounts/${enc('1001@unknown.org')}`],
        ['PATCH', '/api/v1/accounts/ghost', { enabled: false }],
        ['PUT', '/api/v1/accounts/ghost/password', {}],
        ['DELETE', '/api/v1/accounts/ghost'],
        ['GET', '/api/v1/accounts/ghost/bindings'],
        ['DELETE', '/api/v1/accounts/ghost/bindings'],
      ] as Array<[string, string, unknown?]>) {
        const r = await api(method, path, body);
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.body).toEqual({ error: expect.any(String) });
      }
    });

    it('PATCH changes the allowed fields only; disabling removes the bindings', async () => {
      await api('POST', '/api/v1/accounts', { username: '2001', password: 'patch-password-1' });
      await seedBinding(store, '2001@example.com', 'p1');
      const p = await api('PATCH', '/api/v1/accounts/2001', { maxContacts: 4, algorithms: ['SHA-256'] });
      expect(p.status).toBe(200);
      expect(p.body).toMatchObject({ aor: '2001@example.com', maxContacts: 4, algorithms: ['SHA-256'], enabled: true });
      expect(await store.getBindings('2001@example.com', Date.now())).toHaveLength(1);
      const bad = await api('PATCH', '/api/v1/accounts/2001', { username: 'other' });
      expect(bad.status).toBe(400);
      expect((bad.body as { error: string }).error).toMatch(/username/);
      const badPw = await api('PATCH', '/api/v1/accounts/2001', { password: 'new-password-123' });
      expect(badPw.status).toBe(400);
      expect((badPw.body as { error: string }).error).toMatch(/password/);
      expect((await api('PATCH', '/api/v1/accounts/2001', {})).status).toBe(400);
      expect((await api('PATCH', '/api/v1/accounts/2001', { maxContacts: 1.5 })).status).toBe(400);

      const off = await api('PATCH', '/api/v1/accounts/2001', { enabled: false });
      expect(off.status).toBe(200);
      expect(off.body).toMatchObject({ enabled: false });
      expect(await store.getBindings('2001@example.com', Date.now())).toEqual([]);
      expect((await api('GET', '/api/v1/accounts/2001/bindings')).body).toEqual({
        aor: '2001@example.com',
        bindings: [],
      });
      const reset = await api('PATCH', '/api/v1/accounts/2001', { enabled: true, maxContacts: null, algorithms: null });
      expect(reset.body).toMatchObject({ enabled: true, maxContacts: null, algorithms: null });
    });

    it('PUT password: generated once, or given; removes every binding; keeps the old HA1 for the grace period', async () => {
      await api('POST', '/api/v1/accounts', { username: '3001', password: 'original-password-1' });
      await seedBinding(store, '3001@example.com', 'p1');
      await seedBinding(store, '3001@example.com', 'p2', '192.0.2.11');
      expect(await store.getBindings('3001@example.com', Date.now())).toHaveLength(2);

      const gen = await api('PUT', `/api/v1/accounts/${enc('3001@example.com')}/password`, {});
      expect(gen.status).toBe(200);
      const { password } = gen.body as { password: string };
      expect(password).toMatch(/^[A-Za-z2-9]{24}$/);
      expect(await store.getBindings('3001@example.com', Date.now())).toEqual([]);
      const rec = await store.getAccount('3001@example.com');
      expect(rec?.credentials?.ha1.MD5).toBe(md5(`3001:example.com:${password}`));
      expect(rec?.credentials?.previousHa1?.MD5).toBe(md5('3001:example.com:original-password-1'));
      expect(rec?.credentials?.previousUntil).toBeGreaterThan(Date.now());
      const shown = await api('GET', '/api/v1/accounts/3001');
      expect(shown.text).not.toContain(password);
      expect((shown.body as Json).passwordChangedAt).toEqual(expect.any(String));

      // A PUT without a body also generates one.
      const nobody = await fetch(`${admin.url}/api/v1/accounts/3001/password`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(nobody.status).toBe(200);
      expect(((await nobody.json()) as { password?: string }).password).toMatch(/^\S{24}$/);

      await seedBinding(store, '3001@example.com', 'p3');
      const given = await api('PUT', '/api/v1/accounts/3001/password', { password: 'chosen-password-42' });
      expect(given.status).toBe(200);
      expect(given.body).toEqual({ account: expect.objectContaining({ aor: '3001@example.com' }) });
      expect(given.text).not.toContain('chosen-password-42');
      expect(await store.getBindings('3001@example.com', Date.now())).toEqual([]);

      const weak = await api('PUT', '/api/v1/accounts/3001/password', { password: 'x3001xxxxxxxxxxx' });
      expect(weak.status).toBe(400);
      expect((weak.body as { error: string }).error).toMatch(/username/);
      const extra = await api('PUT', '/api/v1/accounts/3001/password', { password: 'chosen-password-42', force: true });
      expect(extra.status).toBe(400);
      expect((extra.body as { error: string }).error).toMatch(/force/);
      expect(admin.logs.join('\n')).not.toContain('chosen-password-42');
    });

    it('bindings: lists with contact, expires, source, transport, user agent, path; clears them', async () => {
      await api('POST', '/api/v1/accounts', { username: '4001', password: 'binding-password-1' });
      await seedBinding(store, '4001@example.com', 'p1');
      const r = await api('GET', '/api/v1/accounts/4001/bindings');
      expect(r.status).toBe(200);
      const body = r.body as { aor: string; bindings: Json[] };
      expect(body.aor).toBe('4001@example.com');
      expect(body.bindings).toHaveLength(1);
      expect(body.bindings[0]).toMatchObject({
        contact: 'sip:p1@192.0.2.10:5060',
        q: null,
        sourceAddress: '192.0.2.10',
        sourcePort: 5060,
        transport: 'udp',
        userAgent: 'TestPhone/1.0',
        path: [],
      });
      expect(body.bindings[0]?.expires).toBeGreaterThan(3500);
      expect(body.bindings[0]?.expires).toBeLessThanOrEqual(3600);
      const cleared = await api('DELETE', '/api/v1/accounts/4001/bindings');
      expect(cleared.status).toBe(200);
      expect(cleared.body).toEqual({ aor: '4001@example.com', removed: 1 });
      expect(await store.getBindings('4001@example.com', Date.now())).toEqual([]);
    });

    it('DELETE removes the account and its bindings', async () => {
      await api('POST', '/api/v1/accounts', { username: '5001', password: 'delete-password-1' });
      await seedBinding(store, '5001@example.com');
      const r = await api('DELETE', '/api/v1/accounts/5001');
      expect(r.status).toBe(204);
      expect(await store.getAccount('5001@example.com')).toBeNull();
      expect(await store.getBindings('5001@example.com', Date.now())).toEqual([]);
      expect((await api('DELETE', '/api/v1/accounts/5001')).status).toBe(404);
    });

    it('imports NDJSON with per-line errors, and JSON arrays', async () => {
      const ndjson = [
        JSON.stringify({ username: '6001', password: 'import-password-1' }),
        JSON.stringify({ username: '6002' }),
        '{broken',
        JSON.stringify({ username: '6001', password: 'import-password-1' }),
        JSON.stringify({ username: '6003', nickname: 'x' }),
        '',
        JSON.stringify({ username: '6004', domain: 'other.example', authType: 'ip', allowedAddresses: ['10.1.2.3'] }),
      ].join('\n');
      const r = await api('POST', '/api/v1/accounts/import', ndjson, { contentType: 'application/x-ndjson' });
      expect(r.status).toBe(200);
      const body = r.body as { created: number; errors: Array<{ line: number; error: string }>; passwords: Json[] };
      expect(body.created).toBe(3);
      expect(body.errors.map((e) => e.line)).toEqual([3, 4, 5]);
      expect(body.errors[1]?.error).toMatch(/exists/);
      expect(body.errors[2]?.error).toMatch(/nickname/);
      expect(body.passwords).toEqual([
        { line: 2, aor: '6002@example.com', password: expect.stringMatching(/^\S{24}$/) },
      ]);
      expect(await store.getAccount('6004@other.example')).not.toBeNull();
      expect(r.text).not.toContain('import-password-1');

      const arr = await api('POST', '/api/v1/accounts/import', [
        { username: '6100', password: 'import-password-2' },
        { username: 7 },
      ]);
      expect(arr.status).toBe(200);
      expect(arr.body).toMatchObject({ created: 1, errors: [{ line: 2, error: expect.stringMatching(/username/) }] });
      const wrongType = await api('POST', '/api/v1/accounts/import', 'username,password\n', {
        contentType: 'text/csv',
      });
      expect(wrongType.status).toBe(415);
      expect(wrongType.body).toEqual({ error: expect.any(String) });
    });

    it('accepts an NDJSON import well over the default 1 MB body limit', async () => {
      const lines = Array.from({ length: 12_000 }, (_, i) =>
        JSON.stringify({ username: `bulk${i}`, password: `bulk-password-${i}-padding-padding-padding-padding` }),
      );
      const text = lines.join('\n');
      expect(text.length).toBeGreaterThan(1_048_576);
      const r = await api('POST', '/api/v1/accounts/import', text, { contentType: 'application/x-ndjson' });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ created: 12_000, errors: [] });
      expect(await store.countAccounts()).toBe(12_000);
    }, 60_000);
  });

  describe('blacklist', () => {
    it('lists lockouts in the contract shape, lifts one by one (404 if not locked), then all', async () => {
      await api('POST', '/api/v1/accounts', { username: '7001', password: 'lockout-password-1' });
      await fail(store, '7001@example.com', '198.51.100.20', 5);
      await fail(store, null, '2001:db8::66', 5);
      const r = await api('GET', '/api/v1/blacklist');
      expect(r.status).toBe(200);
      const body = r.body as { extensions: Json[]; addresses: Json[] };
      expect(body.extensions).toEqual([
        {
          aor: '7001@example.com',
          failures: expect.any(Number),
          lockedUntil: expect.any(String),
          permanent: false,
          lastAddress: '198.51.100.20',
          level: 1,
          firstFailure: expect.any(String),
          lastFailure: expect.any(String),
          sources: ['198.51.100.20'],
        },
      ]);
      expect(new Date(body.extensions[0]?.lockedUntil as string).toISOString()).toBe(body.extensions[0]?.lockedUntil);
      expect(body.addresses.map((a) => a.address).sort()).toEqual(['198.51.100.20', '2001:db8::66']);
      for (const a of body.addresses)
        expect(a).toEqual({
          address: a.address,
          failures: 5,
          lockedUntil: expect.any(String),
          permanent: false,
          level: 1,
          firstFailure: expect.any(String),
          lastFailure: expect.any(String),
          aors: expect.any(Array),
        });

      expect((await api('DELETE', '/api/v1/blacklist/extensions/7001')).status).toBe(204);
      const again = await api('DELETE', `/api/v1/blacklist/extensions/${enc('7001@example.com')}`);
      expect(again.status).toBe(404);
      expect(again.body).toEqual({ error: expect.stringMatching(/not locked/) });
      const malformed = await api('DELETE', '/api/v1/blacklist/addresses/999.1.1.1');
      expect(malformed.status).toBe(400);
      expect(malformed.body).toEqual({ error: expect.stringMatching(/address/) });
      expect((await api('DELETE', '/api/v1/blacklist/addresses/not-an-address')).status).toBe(400);
      expect((await api('DELETE', '/api/v1/blacklist/addresses/203.0.113.1')).status).toBe(404);
      expect((await api('DELETE', `/api/v1/blacklist/addresses/${enc('2001:db8::66')}`)).status).toBe(204);

      const rest = (await api('GET', '/api/v1/blacklist')).body as { extensions: Json[]; addresses: Json[] };
      expect(rest.extensions).toEqual([]);
      expect(rest.addresses.map((a) => a.address)).toEqual(['198.51.100.20']);
      const all = await api('DELETE', '/api/v1/blacklist');
      expect(all.status).toBe(200);
      expect(all.body).toEqual({ lifted: 1 });
      expect((await api('GET', '/api/v1/blacklist')).body).toEqual({ extensions: [], addresses: [] });
      const lifts = admin.logs
        .map((l) => JSON.parse(l) as Json)
        .filter((e) => String(e.what).startsWith('lockout.lift'));
      expect(lifts.map((e) => e.what)).toEqual(['lockout.lift.extension', 'lockout.lift.address', 'lockout.lift.all']);
      for (const e of lifts) expect(e).toMatchObject({ who: 'api', at: expect.any(String) });
    });
  });

  describe('audit trail', () => {
    it('records every operator action with who, what, when and the target, newest first, in pages', async () => {
      await api('POST', '/api/v1/accounts', { username: 'aud1', password: 'a-long-password-1' });
      await api('PUT', '/api/v1/accounts/aud1/password', {});
      await api('PATCH', '/api/v1/accounts/aud1', { enabled: false });
      await call(admin.url, 'DELETE', '/api/v1/accounts/aud1', undefined, { headers: { 'user-agent': 'sipreg-cli' } });
      await new Promise((r) => setTimeout(r, 50)); // entries are written after the response
      const r = await api('GET', '/api/v1/audit?limit=3');
      expect(r.status).toBe(200);
      const page = r.body as { entries: Json[]; nextCursor: string | null };
      expect(page.entries.map((e) => e.action)).toEqual(['account.delete', 'account.update', 'account.password']);
      expect(page.entries[0]).toMatchObject({ actor: 'cli', target: 'aud1@example.com', at: expect.any(String) });
      expect(page.entries[1]).toMatchObject({ actor: 'api', target: 'aud1@example.com' });
      const rest = (await api('GET', `/api/v1/audit?limit=3&cursor=${enc(page.nextCursor ?? '')}`)).body as {
        entries: Json[];
      };
      expect(rest.entries.map((e) => e.action)).toEqual(['account.create']);
      expect(JSON.stringify([page, rest])).not.toMatch(/password"\s*:\s*"|ha1/i);
    });
  });

  describe('short-lived credentials', () => {
    it('mints them (201), per the documented formula; rotates the secret; refuses bad ttl, ip accounts, unknown AORs', async () => {
      expect((await api('POST', '/api/v1/accounts', { username: 'web1', password: 'a-long-password-1' })).status).toBe(
        201,
      );
      const before = Date.now();
      const r = await api('POST', '/api/v1/accounts/web1/credentials', { ttlSec: 600 });
      expect(r.status).toBe(201);
      const c = r.body as { username: string; password: string; expiresAt: string };
      const expiry = Number(c.username.split(':')[0]);
      expect(c.username).toBe(`${expiry}:web1`);
      expect(expiry * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 599_000);
      expect(new Date(c.expiresAt).getTime()).toBe(expiry * 1000);
      const rotated = await api('POST', '/api/v1/accounts/web1/credential-secret');
      expect(rotated.status).toBe(200);
      const { secret } = rotated.body as { secret: string };
      const again = (await api('POST', '/api/v1/accounts/web1/credentials')).body as {
        username: string;
        password: string;
      };
      expect(again.password).toBe(createHmac('sha1', secret).update(again.username).digest('base64'));
      // The secret is never shown again.
      const shown = await api('GET', '/api/v1/accounts/web1');
      expect(shown.text).not.toContain(secret);
      expect((await api('POST', '/api/v1/accounts/web1/credentials', { ttlSec: 5 })).status).toBe(400);
      expect((await api('POST', '/api/v1/accounts/web1/credentials', { ttlSec: 'long' })).status).toBe(400);
      expect((await api('POST', '/api/v1/accounts/nobody/credentials', {})).status).toBe(404);
      await api('POST', '/api/v1/accounts', { username: 'pbx1', authType: 'ip', allowedAddresses: ['192.0.2.1'] });
      const ip = await api('POST', '/api/v1/accounts/pbx1/credentials', {});
      expect(ip.status).toBe(400);
      expect(ip.body).toEqual({ error: expect.stringContaining('authenticates by IP') });
      expect(admin.logs.join('\n')).not.toContain(secret);
      expect(admin.logs.join('\n')).not.toContain(again.password);
    });
  });

  describe('nonce keys', () => {
    it('rotates the stored secret: the old one becomes previous', async () => {
      const before = await store.nonceKeyRing('unused-candidate-0000');
      const r = await api('POST', '/api/v1/nonce-keys/rotate');
      expect(r.status).toBe(200);
      expect((r.body as Json).rotatedAt).toEqual(expect.any(Number));
      const after = await store.nonceKeyRing('unused-candidate-0000');
      expect(after.previous).toBe(before.current);
      expect(after.current).not.toBe(before.current);
      expect(r.text).not.toContain(after.current);
    });
  });
});

describe('nonce keys, configured', () => {
  it('refuses a rotation with 409 when NONCE_SECRET is configured', async () => {
    const admin = await startAdmin(new MemoryStore(), { nonceSecret: 'configured-secret-123456' });
    try {
      const r = await call(admin.url, 'POST', '/api/v1/nonce-keys/rotate');
      expect(r.status).toBe(409);
      expect(r.body).toEqual({ error: 'the nonce secret is configured (NONCE_SECRET): rotate it there' });
    } finally {
      await admin.close();
    }
  });
});

describe('health', () => {
  it('answers 503 on /healthz and /readyz when unhealthy', async () => {
    const admin = await startAdmin(new MemoryStore(), { healthy: false });
    try {
      expect((await call(admin.url, 'GET', '/healthz', undefined, { token: null })).status).toBe(503);
      expect((await call(admin.url, 'GET', '/readyz', undefined, { token: null })).status).toBe(503);
    } finally {
      await admin.close();
    }
  });
});
