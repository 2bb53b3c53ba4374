#!/usr/bin/env node
// The `einattn` command. The CLI runs in a child Node process whose stderr passes through a
// filter that drops Dawn's two native limit notices (see dawn-warnings.mjs: nothing inside the
// process can stop them); stdin and stdout are the child's own, and its exit code or signal
// becomes this process's.
//
// The child runs the built CLI (dist/) in an installed package, which holds no sources. In a
// checkout (src/ beside bin/) it runs the TypeScript sources through tsx instead, so in-repo
// runs always see the current code, with or without a build. Paths resolve from this file, so
// any working directory works.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dawnWarningFilter } from './dawn-warnings.mjs';

const CHILD = 'EINATTN_CLI_CHILD';
const self = fileURLToPath(import.meta.url);

if (process.env[CHILD] === '1') {
  delete process.env[CHILD];
  // Orphaned (the launcher was killed outright): stop rather than hold the GPU.
  process.channel?.unref();
  process.on('disconnect', () => process.exit(129));
  const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  let main;
  if (existsSync(source)) {
    // Both hooks: a user's `--file` module outside an ESM package is CommonJS to Node, and its
    // require() of our .ts sources must be compiled too.
    const [cjs, esm] = await Promise.all([import('tsx/cjs/api'), import('tsx/esm/api')]);
    cjs.register();
    esm.register();
    ({ main } = await import(pathToFileURL(source).href));
  } else {
    ({ main } = await import('../dist/src/cli/main.js'));
  }
  process.exitCode = await main(process.argv.slice(2));
} else {
  const nodeFlags = process.execArgv.filter((a) => !/^--inspect/.test(a));
  const child = spawn(process.execPath, [...nodeFlags, self, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, [CHILD]: '1' },
  });
  const filter = dawnWarningFilter();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const out = filter.feed(chunk);
    if (out) process.stderr.write(out);
  });
  child.stderr.on('end', () => {
    const out = filter.end();
    if (out) process.stderr.write(out);
  });
  const forward = (signal) => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (e) => {
    process.stderr.write(`einattn: could not start ${process.execPath}: ${e.message}\n`);
    process.exitCode = 1;
  });
  child.on('close', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 1;
  });
}
