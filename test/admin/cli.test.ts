import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/admin/cli.js';
import { MemoryStore } from '../../src/store/memory.js';
import { fail, seedBinding, startAdmin, TOKEN, type AdminFixture } from './fixture.js';

let admin: AdminFixture;
let dir: string;
beforeAll(async () => {
  admin = await startAdmin(new MemoryStore());
  dir = mkdtempSync(join(tmpdir(), 'sipreg-cli-'));
});
afterAll(async () => {
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function sipreg(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    { SIPREG_URL: admin.url, ADMIN_TOKEN: TOKEN, ...env },
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('sipreg CLI', () => {
  it('prints help at every level with exit 0, and usage errors with exit 2', async () => {
    const top = await sipreg(['--help']);
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/accounts\s+add \| import/);
    expect((await sipreg([])).code).toBe(2);
    for (const args of [
      ['accounts', '--help'],
      ['bindings', '--help'],
      ['blacklist', '-h'],
      ['accounts', 'add', '--help'],
      ['accounts', 'import', '--help'],
      ['accounts', 'list', '--help'],
      ['accounts', 'show', '--help'],
      ['accounts', 'passwd', '--help'],
      ['accounts', 'disable', '--help'],
      ['accounts', 'enable', '--help'],
      ['accounts', 'rm', '--help'],
      ['bindings', 'list', '--help'],
      ['bindings', 'clear', '--help'],
      ['blacklist', 'list', '--help'],
      ['blacklist', 'clear', '--help'],
    ]) {
      const r = await sipreg(args, { ADMIN_TOKEN: undefined });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out, args.join(' ')).toMatch(/usage: sipreg/);
    }
    for (const args of [
      ['frobnicate'],
      ['accounts'],
      ['accounts', 'explode'],
      ['accounts', 'show'],
      ['accounts', 'show', 'a', 'b'],
      ['accounts', 'add', 'x', '--colour', 'red'],
      ['accounts', 'list', '--limit', 'ten'],
      ['blacklist', 'clear'],
      ['blacklist', 'clear', '--all', '--address', '192.0.2.1'],
      ['accounts', 'import', join(dir, 'missing.csv')],
    ]) {
      const r = await sipreg(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/^sipreg: /);
    }
    expect((await sipreg(['accounts', 'list'], { SIPREG_URL: 'ftp://x' })).code).toBe(2);
  });

  it('adds, shows, lists, and never shows a generated password twice', async () => {
    const add = await sipreg(['accounts', 'add', '1001', '--max-contacts', '2', '--algorithms', 'SHA-256,MD5']);
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/created 1001@example\.com/);
    const password = /password for 1001@example\.com: (\S+)/.exec(add.out)?.[1];
    expect(password).toMatch(/^[A-Za-z2-9]{24}$/);

    const show = await sipreg(['accounts', 'show', '1001']);
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/^aor:\s+1001@example\.com$/m);
    expect(show.out).toMatch(/^algorithms:\s+SHA-256, MD5$/m);
    expect(show.out).not.toContain(password as string);

    const addJson = await sipreg(['accounts', 'add', '1002', '--password', 'cli-given-password', '--json']);
    expect(addJson.code).toBe(0);
    const parsed = JSON.parse(addJson.out) as { account: { aor: string }; password?: string };
    expect(parsed.account.aor).toBe('1002@example.com');
    expect(parsed.password).toBeUndefined();

    const ip = await sipreg([
      'accounts',
      'add',
      'trunk',
      '--domain',
      'other.example',
      '--ip',
      '192.0.2.0/24',
      '--ip',
      '2001:db8::1',
      '--json',
    ]);
    expect(ip.code).toBe(0);
    expect(JSON.parse(ip.out)).toMatchObject({
      account: { authType: 'ip', allowedAddresses: ['192.0.2.0/24', '2001:db8::1'] },
    });

    const list = await sipreg(['accounts', 'list']);
    expect(list.code).toBe(0);
    const lines = list.out.split('\n');
    expect(lines[0]).toMatch(/^AOR\s+AUTH\s+ENABLED\s+MAX CONTACTS\s+ALGORITHMS\s+PASSWORD CHANGED$/);
    expect(lines.some((l) => /^1001@example\.com\s+digest\s+yes\s+2\s+SHA-256,MD5\s+\d{4}-/.test(l))).toBe(true);
    expect(lines.some((l) => /^trunk@other\.example\s+ip\s+yes\s+default\s+default\s+-$/.test(l))).toBe(true);
    expect(list.out).not.toContain(password as string);

    const paged = await sipreg(['accounts', 'list', '--limit', '1', '--json']);
    const page = JSON.parse(paged.out) as { items: unknown[]; nextCursor: string | null };
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).not.toBeNull();
    expect((await sipreg(['accounts', 'list', '--limit', '1'])).out).toMatch(/--cursor/);
    const all = JSON.parse((await sipreg(['accounts', 'list', '--limit', '1', '--all', '--json'])).out) as {
      items: Array<{ aor: string }>;
    };
    expect(all.items.map((a) => a.aor)).toEqual(['1001@example.com', '1002@example.com', 'trunk@other.example']);
  });

  it('passwd removes bindings and prints the new password once; disable/enable; rm', async () => {
    await sipreg(['accounts', 'add', '2001', '--password', 'cli-password-twothou']);
    await seedBinding(admin.store, '2001@example.com');
    const passwd = await sipreg(['accounts', 'passwd', '2001@example.com']);
    expect(passwd.code).toBe(0);
    expect(passwd.out).toMatch(/bindings were removed/);
    expect(passwd.out).toMatch(/password for 2001@example\.com: [A-Za-z2-9]{24}/);
    expect(await admin.store.getBindings('2001@example.com', Date.now())).toEqual([]);
    const given = await sipreg(['accounts', 'passwd', '2001', '--password', 'cli-password-new-1', '--json']);
    expect(given.code).toBe(0);
    expect(JSON.parse(given.out)).not.toHaveProperty('password');
    const weak = await sipreg(['accounts', 'passwd', '2001', '--password', 'short']);
    expect(weak.code).toBe(1);
    expect(weak.err).toMatch(/too short/);

    await seedBinding(admin.store, '2001@example.com');
    const disable = await sipreg(['accounts', 'disable', '2001']);
    expect(disable.code).toBe(0);
    expect(await admin.store.getBindings('2001@example.com', Date.now())).toEqual([]);
    expect(JSON.parse((await sipreg(['accounts', 'show', '2001', '--json'])).out)).toMatchObject({ enabled: false });
    expect((await sipreg(['accounts', 'enable', '2001'])).out).toMatch(/enabled 2001@example\.com/);

    expect((await sipreg(['accounts', 'rm', '2001'])).code).toBe(0);
    const gone = await sipreg(['accounts', 'show', '2001']);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/no account 2001@example\.com/);
  });

  it('bindings list and clear', async () => {
    await sipreg(['accounts', 'add', '3001', '--password', 'cli-password-three']);
    expect((await sipreg(['bindings', 'list', '3001'])).out).toMatch(/no bindings/);
    await seedBinding(admin.store, '3001@example.com', 'desk', '198.51.100.4');
    const list = await sipreg(['bindings', 'list', '3001']);
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^CONTACT\s+EXPIRES\s+Q\s+SOURCE\s+TRANSPORT\s+USER AGENT$/);
    expect(list.out).toMatch(/sip:desk@198\.51\.100\.4:5060\s+\d+\s+-\s+198\.51\.100\.4:5060\s+udp\s+TestPhone\/1\.0/);
    const json = JSON.parse((await sipreg(['bindings', 'list', '3001', '--json'])).out) as { bindings: unknown[] };
    expect(json.bindings).toHaveLength(1);
    const clear = await sipreg(['bindings', 'clear', '3001']);
    expect(clear.out).toBe('3001@example.com: removed 1 binding');
    expect((await sipreg(['bindings', 'list', 'ghost'])).code).toBe(1);
  });

  it('blacklist list and clear by extension, address and all', async () => {
    await sipreg(['accounts', 'add', '4001', '--password', 'cli-password-four']);
    await fail(admin.store, '4001@example.com', '203.0.113.50', 5);
    const list = await sipreg(['blacklist', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^4001@example\.com\s+\d+\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+203\.0\.113\.50$/m);
    expect(list.out).toMatch(/^203\.0\.113\.50\s+5\s+\d{4}-/m);
    const json = JSON.parse((await sipreg(['blacklist', 'list', '--json'])).out) as {
      extensions: unknown[];
      addresses: unknown[];
    };
    expect(json.extensions).toHaveLength(1);
    expect(json.addresses).toHaveLength(1);

    expect((await sipreg(['blacklist', 'clear', '--extension', '4001'])).code).toBe(0);
    const notLocked = await sipreg(['blacklist', 'clear', '--extension', '4001']);
    expect(notLocked.code).toBe(1);
    expect(notLocked.err).toMatch(/not locked/);
    const bad = await sipreg(['blacklist', 'clear', '--address', 'bogus']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/not an IP address/);
    expect((await sipreg(['blacklist', 'clear', '--address', '203.0.113.50'])).code).toBe(0);
    await fail(admin.store, null, '2001:db8::99', 5);
    const all = await sipreg(['blacklist', 'clear', '--all']);
    expect(all.code).toBe(0);
    expect(all.out).toBe('lifted 1 lockout');
    expect((await sipreg(['blacklist', 'list'])).out).toMatch(
      /locked extensions:\n {2}none\n\nlocked addresses:\n {2}none/,
    );
  });

  it('imports CSV and JSONL, with errors pointing at file lines (exit 1 when any failed)', async () => {
    const csv = join(dir, 'accounts.csv');
    writeFileSync(
      csv,
      [
        'username,password,maxContacts,allowedAddresses,authType',
        '5001,csv-password-five,2,,',
        '"5002",,,,',
        '5001,csv-password-five,,,',
        '5003,,many,,',
        '5004,,,"192.0.2.7;192.0.2.8",ip',
      ].join('\n'),
    );
    const r = await sipreg(['accounts', 'import', csv]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/created 3, failed 2/);
    expect(r.out).toContain(`${csv}:4: `);
    expect(r.out).toMatch(/:4: .*exists/);
    expect(r.out).toMatch(/:5: .*maxContacts/);
    expect(r.out).toMatch(/^3\s+5002@example\.com\s+[A-Za-z2-9]{24}$/m);
    expect((await admin.store.getAccount('5004@example.com'))?.account.allowedAddresses).toEqual([
      '192.0.2.7',
      '192.0.2.8',
    ]);

    const jsonl = join(dir, 'accounts.jsonl');
    writeFileSync(
      jsonl,
      `${JSON.stringify({ username: '5101', password: 'jsonl-password-1' })}\n\n${JSON.stringify({ username: '5102' })}\n`,
    );
    const j = await sipreg(['accounts', 'import', jsonl, '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toEqual({
      created: 2,
      errors: [],
      passwords: [{ line: 3, aor: '5102@example.com', password: expect.any(String) }],
    });

    const badCsv = join(dir, 'bad.csv');
    writeFileSync(badCsv, 'username,colour\nx,red\n');
    const b = await sipreg(['accounts', 'import', badCsv]);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/colour/);
  });

  it('exit 3 naming the URL when the server is unreachable', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const r = await sipreg(['accounts', 'list'], { SIPREG_URL: url });
    expect(r.code).toBe(3);
    expect(r.err).toContain(url);
    expect(r.err).toMatch(/cannot reach/);
    const viaFlag = await sipreg(['accounts', 'list', '--url', url]);
    expect(viaFlag.code).toBe(3);
  });

  it('exit 4 on a wrong or missing token, without echoing the token', async () => {
    const wrong = await sipreg(['accounts', 'list'], { ADMIN_TOKEN: 'not-the-token' });
    expect(wrong.code).toBe(4);
    expect(wrong.err).toMatch(/unauthorized/);
    expect(wrong.err).not.toContain('not-the-token');
    const missing = await sipreg(['blacklist', 'list'], { ADMIN_TOKEN: undefined });
    expect(missing.code).toBe(4);
    expect(missing.err).toMatch(/ADMIN_TOKEN/);
  });

  it('exit 1 with the API error message', async () => {
    const dup1 = await sipreg(['accounts', 'add', '6001', '--password', 'cli-password-six']);
    expect(dup1.code).toBe(0);
    const dup = await sipreg(['accounts', 'add', '6001', '--password', 'cli-password-six']);
    expect(dup.code).toBe(1);
    expect(dup.err).toBe('sipreg: account 6001@example.com exists already');
    const badDomain = await sipreg(['accounts', 'show', '6001@nowhere.org']);
    expect(badDomain.code).toBe(1);
    expect(badDomain.err).toMatch(/nowhere\.org/);
  });
});
