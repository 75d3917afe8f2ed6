/**
 * A page that loads JsSIP and SIP.js, bundled from node_modules with esbuild (no CDN), served on loopback: what a
 * web softphone would load. The tests drive the libraries through page.evaluate.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';

async function bundle(entry: string, globalName: string): Promise<string> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName,
    platform: 'browser',
    write: false,
  });
  return r.outputFiles[0]?.text ?? '';
}

export async function servePage(): Promise<{ url: string; close(): Promise<void> }> {
  const [jssip, sipjs] = await Promise.all([
    bundle('node_modules/jssip/lib/JsSIP.js', 'JsSIP'),
    bundle('node_modules/sip.js/lib/index.js', 'SIP'),
  ]);
  const files: Record<string, [string, string]> = {
    '/': [
      'text/html',
      '<!doctype html><title>softphone</title><script src="/jssip.js"></script><script src="/sip.js"></script>',
    ],
    '/jssip.js': ['text/javascript', jssip],
    '/sip.js': ['text/javascript', sipjs],
  };
  const server = http.createServer((req, res) => {
    const f = files[req.url ?? ''];
    if (f === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f[0] }).end(f[1]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
