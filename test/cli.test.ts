import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const CLI = join(ROOT, 'dist', 'cli.js');

const FILES = [
  'ca.pem',
  'client-expired-key.pem',
  'client-expired.pem',
  'client-hostile-key.pem',
  'client-hostile.pem',
  'client-not-yet-valid-key.pem',
  'client-not-yet-valid.pem',
  'client-self-signed-key.pem',
  'client-self-signed.pem',
  'client-untrusted-key.pem',
  'client-untrusted.pem',
  'client-valid-key.pem',
  'client-valid.pem',
  'client-wrong-eku-key.pem',
  'client-wrong-eku.pem',
  'server-key.pem',
  'server.pem',
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [CLI, ...args], { cwd }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-cli-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first (npm test does).`);
});

describe('mtls-observability CLI', () => {
  test('dist/cli.js starts with a node shebang', async () => {
    const text = await readFile(CLI, 'utf8');
    assert.equal(text.split('\n')[0], '#!/usr/bin/env node');
  });

  test('--help prints usage on stdout and exits 0', async () => {
    const flags = ['--help', '-h', 'help'];
    const runs = await Promise.all(flags.map((flag) => run([flag], tmpdir())));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 0, flags[i]);
      assert.match(r.stdout, /^Usage: mtls-observability <command> \[options\]\n/);
      assert.match(r.stdout, /dev-certs <dir> \[--force\]/);
      assert.equal(r.stderr, '');
    }
    const sub = await run(['dev-certs', '--help'], tmpdir());
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /^Usage: /);
  });

  test('no arguments: usage on stdout, exit 2', async () => {
    const r = await run([], tmpdir());
    assert.equal(r.code, 2);
    assert.match(r.stdout, /^Usage: mtls-observability/);
  });

  test('usage errors exit 2 and say why on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /^mtls-observability: unknown command "frobnicate"\n\nUsage: /],
      [['dev-certs'], /^mtls-observability: dev-certs needs a directory: mtls-observability dev-certs <dir>\n/],
      [['dev-certs', 'a', 'b'], /^mtls-observability: dev-certs takes one directory, got 2 arguments\n/],
      [['dev-certs', '--bogus', 'a'], /^mtls-observability: Unknown option '--bogus'/],
    ];
    await withTempDir(async (dir) => {
      const runs = await Promise.all(cases.map(([args]) => run(args, dir)));
      for (const [i, [args, message]] of cases.entries()) {
        const r = runs[i]!;
        assert.equal(r.code, 2, args.join(' '));
        assert.match(r.stderr, message);
        assert.equal(r.stdout, '');
      }
      assert.deepEqual(await readdir(dir), []);
    });
  });

  test('dev-certs <dir> writes exactly the documented files and usable commands', async () => {
    await withTempDir(async (dir) => {
      const r = await run(['dev-certs', 'certs'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const out = join(dir, 'certs');
      assert.deepEqual((await readdir(out)).sort(), FILES);
      for (const f of FILES) {
        assert.equal((await stat(join(out, f))).mode & 0o777, f.endsWith('-key.pem') ? 0o600 : 0o644, f);
        assert.match(r.stdout, new RegExp(`^  ${f.replace(/\./g, '\\.')} `, 'm'));
      }
      assert.match(r.stdout, new RegExp(`^Wrote 17 files to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\n`));
      assert.ok(
        r.stdout.includes(
          `curl --cert ${out}/client-valid.pem --key ${out}/client-valid-key.pem --cacert ${out}/ca.pem https://localhost:8443/\n`,
        ),
      );
      const valid = new X509Certificate(await readFile(join(out, 'client-valid.pem')));
      assert.equal(valid.subject, 'O=mtls-observability demo\nCN=alice');
      assert.equal(valid.verify(new X509Certificate(await readFile(join(out, 'ca.pem'))).publicKey), true);
    });
  });

  test('the printed server snippet and curl line work', async () => {
    await withTempDir(async (dir) => {
      const r = await run(['dev-certs', 'my certs'], dir);
      assert.equal(r.code, 0, r.stderr);
      const listen = ".listen(8443, '127.0.0.1');";
      const snippet = r.stdout.slice(r.stdout.indexOf("import https from 'node:https';"), r.stdout.indexOf(listen) + listen.length);
      const curlLine = r.stdout.split('\n').find((l) => l.startsWith('curl '))!;
      // The path has a space: the curl line must quote it.
      assert.ok(curlLine.includes(`--cacert '${join(dir, 'my certs', 'ca.pem')}'`), curlLine);
      // Same snippet on port 0 (tests never use fixed ports); it reports the port it got.
      const script = snippet.replace(listen, ".listen(0, '127.0.0.1', function () { console.log(this.address().port); });");
      assert.notEqual(script, snippet);
      const file = join(dir, 'server.mjs');
      await writeFile(file, script);
      const server = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((done) => server.once('exit', done));
      try {
        const port = await new Promise<number>((resolvePort, reject) => {
          server.stdout.once('data', (d: Buffer) => resolvePort(Number(d.toString().trim())));
          server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
        });
        const curl = (clientName: string) =>
          new Promise<string>((resolveCurl, reject) => {
            const line = curlLine
              .replace(/client-valid/g, clientName)
              .replace('https://localhost:8443/', `https://localhost:${port}/`);
            execFile('sh', ['-c', `${line} --silent --show-error`], (err, stdout, stderr) =>
              err ? reject(new Error(stderr)) : resolveCurl(stdout),
            );
          });
        assert.equal(
          await curl('client-valid'),
          '{"authorized":true,"authorizationError":null,"subject":"O=mtls-observability demo\\nCN=alice"}\n',
        );
        assert.equal(
          await curl('client-expired'),
          '{"authorized":false,"authorizationError":"CERT_HAS_EXPIRED","subject":"O=mtls-observability demo\\nCN=expired"}\n',
        );
      } finally {
        server.kill();
        await exited;
      }
    });
  });

  test('refuses to overwrite existing files unless --force', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'ca.pem'), 'keep me');
      const r = await run(['dev-certs', '.'], dir);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        'mtls-observability: refusing to overwrite existing files:\n  ca.pem\nNothing was written. Use --force to replace them.\n',
      );
      assert.deepEqual(await readdir(dir), ['ca.pem']);
      assert.equal(await readFile(join(dir, 'ca.pem'), 'utf8'), 'keep me');

      const forced = await run(['dev-certs', '.', '--force'], dir);
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual((await readdir(dir)).sort(), FILES);
      assert.match(await readFile(join(dir, 'ca.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----\n/);
    });
  });
});
