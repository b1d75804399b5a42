/**
 * The examples run as a user would run them: as child processes importing the built package by
 * name (dist/, so run `npm run build` first; `npm test` does).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import https from 'node:https';
import { writeDevCertificates } from '../lib/dev-certs/index.js';
import { getTestPki } from './helpers/pki.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

before(async () => {
  await getTestPki();
});

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor(running: Running, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(running.stdout());
    if (match) return match;
    if (running.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no ${pattern} in output:\n${running.stdout()}\n${running.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function get(port: number, dir: string, client: string | undefined): Promise<{ status: number; body: string }> {
  return Promise.all([
    readFile(join(dir, 'ca.pem'), 'utf8'),
    client ? readFile(join(dir, `client-${client}.pem`), 'utf8') : undefined,
    client ? readFile(join(dir, `client-${client}-key.pem`), 'utf8') : undefined,
  ]).then(
    ([ca, cert, key]) =>
      new Promise((resolve, reject) => {
        https
          .get(
            { host: '127.0.0.1', port, path: '/', servername: 'localhost', ca, agent: false, ...(cert ? { cert, key } : {}) },
            (res) => {
              let body = '';
              res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            },
          )
          .on('error', reject);
      }),
  );
}

test('npm run demo: prints one access line per client and an identity, exits 0 within 15 s', async () => {
  const started = Date.now();
  const demo = run('examples/demo/demo.ts', []);
  const { code } = await demo.exited;
  const elapsed = Date.now() - started;
  assert.equal(code, 0, demo.stderr());
  assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
  const out = demo.stdout();
  // Access lines come before the handshake-failure section (whose lines share the prefix).
  const access = out.split('\nHandshake failures')[0]!.split('\n').filter((line) => line.startsWith('127.0.0.1 '));
  const expected = [
    ['valid', 'SUCCESS', 'CN=alice,O=mtls-observability demo'],
    ['expired', 'FAILED:CERT_HAS_EXPIRED', 'CN=expired,O=mtls-observability demo'],
    ['untrusted', 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CN=untrusted,O=mtls-observability demo'],
    [
      'hostile',
      'SUCCESS',
      'CN=mallory\\\\\\"\\\\0A127.0.0.1 - admin [27/Nov/2026:00:00:00 \\\\+0000] \\\\\\"GET /admin HTTP/1.1\\\\\\" 200 0 \\\\\\"\\\\\\\\,O=mtls-observability demo',
    ],
    ['none', 'NONE', '-'],
  ];
  assert.equal(access.length, expected.length, out);
  // Each client is explained above the lines.
  assert.match(out, /\nClients, one request each:\n {2}valid {6}CN=alice from the trusted CA: verify=SUCCESS, every field, its SPIFFE ID\n {2}expired {4}/);
  assert.match(out, /\n {2}none {7}no certificate: verify=NONE and "-" for every certificate field\n/);
  for (const [i, [client, verify, subject]] of expected.entries()) {
    const line = access[i]!;
    assert.ok(line.includes(`"GET /hello?client=${client} HTTP/1.1" 200 `), line);
    assert.ok(line.includes(` verify=${verify} subject="${subject}" `), line);
  }
  // The forged line inside the hostile CN never becomes a line of its own.
  assert.ok(!out.includes('\n127.0.0.1 - admin'));
  assert.match(out, /res\.locals\.mtls for the valid client \(what route handlers read; der shortened\):\n\n\{\n {2}verified: true,\n {2}verify: 'SUCCESS',\n {2}source: 'tls',/);
  assert.match(out, /spiffeId: 'spiffe:\/\/example\.org\/ns\/demo\/sa\/alice'/);
  // Handshake failures and the metrics snapshot (observeTlsServer, OpenTelemetry SDK).
  assert.match(out, /\n127\.0\.0\.1 - - \[[^\]]+\] "TLS handshake failed" outcome=rejected reason=CERT_HAS_EXPIRED verify=FAILED:CERT_HAS_EXPIRED /);
  assert.match(out, /\nmtls_server_handshakes_total\{mtls_handshake_outcome="rejected",error_type="CERT_HAS_EXPIRED"\} 1\n/);
  // Who is calling: the unexpected deployer (reported once for two requests) and billing's rotation.
  const who = out.split('\nWho is calling')[1]!;
  const audit = who.split('\n').filter((line) => line.includes('"mTLS client '));
  assert.deepEqual(
    audit.map((line) => /"mTLS client [a-z ]+" event=\S+( reason=\S+ mode=\S+)? source=tls subject=(\S+) .* serial=(\S+) /.exec(line)?.slice(1).join('|')),
    [
      '|CN=alice,O=mtls-observability\\20demo|' + /serial=(\S+)/.exec(audit[0]!)![1],
      '|CN=deployer,O=Example|0D01',
      ' reason=spiffe_id mode=observe|CN=deployer,O=Example|0D01',
      '|CN=billing,O=Example|0A',
      '|CN=billing,O=Example|0B',
    ],
  );
  assert.match(audit[4]!, /"mTLS client rotation" event=rotation .* rotated_by=spiffe_id previous_serial=0A previous_fingerprint=[0-9A-F]{64}$/);
  assert.match(who, /\n {2}CN=deployer,O=Example {2}serial=0D01 {2}spiffe=spiffe:\/\/example\.org\/ns\/ci\/sa\/deployer {2}requests=2\n/);
  assert.match(out, /\nmtls_server_unexpected_identities_total\{mtls_unexpected_reason="spiffe_id",mtls_expected_mode="observe"\} 2\n/);
  assert.match(out, /\nmtls_server_audit_events_total\{mtls_audit_event="rotation"\} 1\n/);
});

test('npm run demo -- --serve: serves until SIGTERM, prints working curl commands, then removes its private keys', async () => {
  const demo = run('examples/demo/demo.ts', ['--serve', '--port', '0']);
  let dir: string | undefined;
  try {
    const [, port] = await waitFor(demo, /serving https:\/\/localhost:(\d+)/);
    [, dir] = await waitFor(demo, /^ {2}cd (\S+)$/m);
    await waitFor(demo, /Access log:\n/);
    assert.match(demo.stdout(), / {2}curl --cacert ca\.pem --cert client-valid\.pem --key client-valid-key\.pem https:\/\/localhost:\d+\/hello\n/);
    const response = await new Promise<string>((resolve, reject) => {
      Promise.all([readFile(join(dir!, 'ca.pem')), readFile(join(dir!, 'client-valid.pem')), readFile(join(dir!, 'client-valid-key.pem'))]).then(
        ([ca, cert, key]) =>
          https
            .get({ host: '127.0.0.1', port: Number(port), path: '/hello', servername: 'localhost', ca, cert, key, agent: false }, (res) => {
              let body = '';
              res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
              res.on('end', () => resolve(body));
            })
            .on('error', reject),
        reject,
      );
    });
    assert.deepEqual(JSON.parse(response), { verified: true, verify: 'SUCCESS', subject: 'CN=alice,O=mtls-observability demo' });
    await waitFor(demo, /"GET \/hello HTTP\/1\.1" 200 \d+ "-" "-" verify=SUCCESS subject="CN=alice,O=mtls-observability demo"/);
    assert.ok(existsSync(join(dir!, 'client-valid-key.pem')));
  } finally {
    demo.child.kill('SIGTERM');
  }
  assert.deepEqual(await demo.exited, { code: 0, signal: null });
  assert.equal(existsSync(dir!), false, `${dir} (with the private keys) is left behind`);
});

test('npm run demo -- --serve: Ctrl-C (SIGINT) also removes the temporary certificates and keys', async () => {
  const demo = run('examples/demo/demo.ts', ['--serve', '--port', '0']);
  let dir: string | undefined;
  try {
    [, dir] = await waitFor(demo, /^ {2}cd (\S+)$/m);
    await waitFor(demo, /Access log:\n/);
    assert.ok(existsSync(join(dir!, 'server-key.pem')));
  } finally {
    demo.child.kill('SIGINT');
  }
  assert.deepEqual(await demo.exited, { code: 0, signal: null });
  assert.equal(existsSync(dir!), false, `${dir} (with the private keys) is left behind`);
});



test('examples/express-basic: 200 for the valid client, 403 with a code otherwise, morgan lines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-express-basic-'));
  await writeDevCertificates(dir, await getTestPki());
  const server = run('examples/express-basic/server.ts', [dir], { PORT: '0' });
  try {
    const [, port] = await waitFor(server, /listening on https:\/\/localhost:(\d+)/);
    const valid = await get(Number(port), dir, 'valid');
    assert.deepEqual(valid, {
      status: 200,
      body: JSON.stringify({ hello: 'CN=alice,O=mtls-observability demo', spiffeId: 'spiffe://example.org/ns/demo/sa/alice' }),
    });
    const expired = await get(Number(port), dir, 'expired');
    assert.equal(expired.status, 403);
    assert.deepEqual(JSON.parse(expired.body), {
      code: 'ERR_MTLS_CLIENT_CERT_INVALID',
      message: 'The client certificate was not accepted (CERT_HAS_EXPIRED).',
      verify: 'FAILED:CERT_HAS_EXPIRED',
    });
    const none = await get(Number(port), dir, undefined);
    assert.equal(none.status, 403);
    assert.deepEqual(JSON.parse(none.body), {
      code: 'ERR_MTLS_CLIENT_CERT_REQUIRED',
      message: 'A client certificate is required.',
      verify: 'NONE',
    });
    await waitFor(server, /verify=NONE/);
    const lines = server.stdout().split('\n').filter((line) => line.startsWith('127.0.0.1 '));
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /"GET \/ HTTP\/1\.1" 200 \d+ "-" "-" verify=SUCCESS subject="CN=alice,O=mtls-observability demo"/);
    assert.match(lines[1]!, /"GET \/ HTTP\/1\.1" 403 \d+ "-" "-" verify=FAILED:CERT_HAS_EXPIRED subject="CN=expired,O=mtls-observability demo"/);
    assert.match(lines[2]!, /"GET \/ HTTP\/1\.1" 403 \d+ "-" "-" verify=NONE subject="-"/);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await rm(dir, { recursive: true, force: true });
  }
});
