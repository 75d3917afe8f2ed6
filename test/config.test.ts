import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../src/config.js';

const file = (content: string): string => {
  const p = join(mkdtempSync(join(tmpdir(), 'sipreg-cfg-')), 'c.json');
  writeFileSync(p, content);
  return p;
};

const errorOf = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('gives the contract defaults without a file', () => {
    const c = loadConfig({ CONFIG_FILE: file('{}') });
    expect(c.sip.host).toBe('0.0.0.0');
    expect(c.sip.udpPort).toBe(5060);
    expect(c.sip.tcpPort).toBe(5060);
    expect(c.sip.tlsPort).toBe(5061);
    expect(c.sip.domains).toEqual(['localhost']);
    expect(c.redisUrl).toBeNull();
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 8080, token: null });
    expect(c.log.level).toBe('info');
    expect(c.registrar.algorithms).toEqual(['MD5']);
    expect(c.registrar.domainAlgorithms).toEqual({});
    expect(c.registrar.nextNonce).toBe(false);
    expect(c.registrar.nonceSecret).toBeNull();
    expect(c.lockout.extension).toEqual({ threshold: 5, lockSec: 900 });
    expect(c.lockout.address).toEqual({ threshold: 20, windowSec: 600, lockSec: 900 });
  });

  it('lets environment variables win over the file', () => {
    const c = loadConfig({
      CONFIG_FILE: file('{"sip": {"udpPort": 5070, "domains": ["a.test"]}, "log": {"level": "warn"}}'),
      SIP_UDP_PORT: 'off',
      SIP_TCP_PORT: '0',
      SIP_DOMAINS: 'b.test, c.test',
      REDIS_URL: 'redis://127.0.0.1:6390',
      ADMIN_PORT: '0',
      ADMIN_TOKEN: 'secret-token',
    });
    expect(c.sip.udpPort).toBe('off');
    expect(c.sip.tcpPort).toBe(0);
    expect(c.sip.domains).toEqual(['b.test', 'c.test']);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6390');
    expect(c.admin.port).toBe(0);
    expect(c.log.level).toBe('warn');
  });

  it('names the key and the variable of a bad value in one line', () => {
    const m = errorOf({ CONFIG_FILE: file('{}'), SIP_UDP_PORT: 'abc' });
    expect(m).toMatch(/^config: sip\.udpPort: .*SIP_UDP_PORT/);
    expect(m).not.toContain('\n');
  });

  it.each([
    [{ SIP_TCP_PORT: '70000' }, 'sip.tcpPort'],
    [{ SIP_DOMAINS: '' }, 'sip.domains'],
    [{ SIP_DOMAINS: 'bad domain' }, 'sip.domains[0]'],
    [{ REDIS_URL: 'http://x' }, 'redisUrl'],
    [{ LOG_LEVEL: 'loud' }, 'log.level'],
    [{ ADMIN_PORT: '-1' }, 'admin.port'],
    [{ SIP_HOST: 'not a host!' }, 'sip.host'],
    [{ SIP_TLS_CERT: '/tmp/cert.pem' }, 'sip.tlsKey'],
    [{ TRUSTED_NETWORKS: '10.0.0.0/33' }, 'lockout.trustedNetworks[0]'],
    [{ SIP_WORKERS: '2' }, 'sip.workers'],
    [{ ADMIN_PORT: '0x1f90' }, 'admin.port'],
    [{ SIP_WORKERS: '1e1', REDIS_URL: 'redis://127.0.0.1:6379' }, 'sip.workers'],
    [{ SIP_WORKERS: '0', REDIS_URL: 'redis://127.0.0.1:6379' }, 'sip.workers'],
  ])('rejects %o naming %s', (env, key) => {
    expect(errorOf({ CONFIG_FILE: file('{}'), ...env })).toContain(`config: ${key}:`);
  });

  it('rejects unknown keys and wrong types in the file', () => {
    expect(errorOf({ CONFIG_FILE: file('{"sip": {"udpPrt": 5060}}') })).toContain('sip.udpPrt: is not a known key');
    expect(errorOf({ CONFIG_FILE: file('{"registrar": {"minExpires": "soon"}}') })).toContain('registrar.minExpires');
    expect(errorOf({ CONFIG_FILE: file('{"registrar": {"minExpires": 9000}}') })).toContain('registrar.minExpires');
    expect(errorOf({ CONFIG_FILE: file('{"registrar": {"algorithms": ["SHA-1"]}}') })).toContain(
      'registrar.algorithms[0]',
    );
  });

  it('takes per-domain algorithms for served domains only, and nonce secrets of 16 bytes or more', () => {
    const ok = loadConfig({
      CONFIG_FILE: file(
        '{"sip": {"domains": ["a.test", "b.test"]}, "registrar": {"domainAlgorithms": {"b.test": ["SHA-256", "MD5"]}}}',
      ),
    });
    expect(ok.registrar.domainAlgorithms).toEqual({ 'b.test': ['SHA-256', 'MD5'] });
    expect(errorOf({ CONFIG_FILE: file('{"registrar": {"domainAlgorithms": {"c.test": ["MD5"]}}}') })).toBe(
      'config: registrar.domainAlgorithms.c.test: is not in sip.domains',
    );
    expect(errorOf({ CONFIG_FILE: file('{"registrar": {"domainAlgorithms": {"localhost": ["MD4"]}}}') })).toContain(
      'registrar.domainAlgorithms.localhost[0]',
    );
    const short = errorOf({ CONFIG_FILE: file('{}'), NONCE_SECRET: 'short' });
    expect(short).toContain('registrar.nonceSecret: must be at least 16 bytes');
    expect(short).not.toContain('"short"');
    expect(errorOf({ CONFIG_FILE: file('{}'), NONCE_SECRET_PREVIOUS: 'x' })).toContain('registrar.previousNonceSecret');
  });

  it('takes one Redis topology at a time, each with one clear line when it is wrong', () => {
    const f = file('{}');
    const c = loadConfig({ CONFIG_FILE: f, REDIS_CLUSTER_NODES: '127.0.0.1:7000, [::1]:7001', SIP_WORKERS: '2' });
    expect(c.redisClusterNodes).toEqual(['127.0.0.1:7000', '[::1]:7001']);
    expect(c.sip.workers).toBe(2);
    expect(
      loadConfig({ CONFIG_FILE: f, REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_WAIT_REPLICAS: '1' }).redisWaitReplicas,
    ).toBe(1);
    expect(errorOf({ CONFIG_FILE: f, REDIS_CLUSTER_NODES: '127.0.0.1' })).toMatch(
      /^config: redisClusterNodes\[0\]: must be host:port .*\[from REDIS_CLUSTER_NODES\]$/,
    );
    expect(errorOf({ CONFIG_FILE: f, REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_URL: 'redis://127.0.0.1' })).toMatch(
      /set one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES/,
    );
    expect(errorOf({ CONFIG_FILE: f, REDIS_SENTINELS: '127.0.0.1:26379' })).toMatch(/needs REDIS_SENTINEL_NAME/);
    expect(errorOf({ CONFIG_FILE: f, REDIS_URL: 'http://127.0.0.1' })).toMatch(/redis:\/\/ or rediss:\/\//);
    expect(errorOf({ CONFIG_FILE: f, REDIS_WAIT_REPLICAS: '1' })).toMatch(/REDIS_WAIT_REPLICAS needs Redis/);
    for (const e of [
      { REDIS_CLUSTER_NODES: 'x:99999' },
      { REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_URL: 'redis://x' },
    ]) {
      expect(errorOf({ CONFIG_FILE: f, ...e }).split('\n')).toHaveLength(1);
    }
  });

  it('rejects a file that is missing or not JSON', () => {
    expect(errorOf({ CONFIG_FILE: '/nonexistent/sipreg.json' })).toContain('CONFIG_FILE');
    expect(errorOf({ CONFIG_FILE: file('{not json') })).toContain('CONFIG_FILE');
  });

  it('does not mutate the defaults', () => {
    loadConfig({ CONFIG_FILE: file('{}'), SIP_DOMAINS: 'x.test' });
    expect(DEFAULT_CONFIG.sip.domains).toEqual(['localhost']);
  });
});
