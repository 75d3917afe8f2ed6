/** The UDP receive queue is sized by config (sip.limits.udpReceiveBufferBytes), and a kernel cap is reported. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UdpTransport } from '../../src/transport/udp.js';
import { startTestApp } from '../helpers/app.js';

describe('UDP receive buffer', () => {
  it('asks the kernel for the configured size (Linux grants twice it)', async () => {
    const u = await UdpTransport.listen('127.0.0.1', 0, () => undefined, {
      maxDatagram: 65_535,
      receiveBufferBytes: 65_536,
    });
    try {
      // The kernel default (rmem_default, 212,992 here) would read 425,984: this is the size asked for.
      expect(u.receiveBufferBytes).toBe(131_072);
    } finally {
      await u.close();
    }
  });

  it('says so in one warning when net.core.rmem_max caps it', async () => {
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const asked = 64 << 20;
    const t = await startTestApp({ sip: { limits: { udpReceiveBufferBytes: asked } } });
    try {
      const warnings = t.logs.filter((l) => l.includes('"udp-buffer-capped"'));
      if (rmemMax * 2 < asked) {
        expect(warnings).toHaveLength(1);
        expect(JSON.parse(warnings[0]!)).toMatchObject({ asked, granted: rmemMax * 2 });
      } else expect(warnings).toHaveLength(0);
    } finally {
      await t.stop();
    }
  });
});
