#!/usr/bin/env node
// The `sipreg` command: the compiled CLI (npm run build compiles src/ to dist/).
const { main } = await import('../dist/admin/cli.js');
process.exitCode = await main(
  process.argv.slice(2),
  process.env,
  (s) => process.stdout.write(s + '\n'),
  (s) => process.stderr.write(s + '\n'),
);
