/**
 * Packaging: what a consumer gets. The first suite links the built package (`npm run build`; npm
 * test builds first) into a consumer's node_modules; the second packs the tarball as a release
 * would (prepack builds) and installs it with npm into a fresh app, with the tools from npm's
 * cache at the versions the repository uses.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

function node(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, args, { cwd }, (err, stdout, stderr) =>
      err ? reject(new Error(`node ${args.join(' ')} failed: ${stdout}${stderr}`)) : resolvePromise({ stdout, stderr }),
    );
  });
}

let consumer: string;

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is missing: run "npm run build" first (npm test does).');
  consumer = await mkdtemp(join(tmpdir(), 'mtls-consumer-'));
  await mkdir(join(consumer, 'node_modules'));
  await symlink(ROOT, join(consumer, 'node_modules', 'mtls-observability'), 'dir');
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await writeFile(
    join(consumer, 'esm.mjs'),
    `import * as m from 'mtls-observability';
import * as d from 'mtls-observability/dev-certs';
console.log(JSON.stringify({ main: Object.keys(m).sort(), devCerts: Object.keys(d).sort() }));
`,
  );
  await writeFile(
    join(consumer, 'cjs.cjs'),
    `const m = require('mtls-observability');
const d = require('mtls-observability/dev-certs');
const names = (o) => Object.keys(o).filter((k) => k !== '__esModule' && k !== 'module.exports').sort();
const err = new m.MtlsError('ERR_MTLS_CERT_PARSE', 'bad');
console.log(JSON.stringify({
  main: names(m),
  devCerts: names(d),
  types: Object.fromEntries(names(m).map((k) => [k, typeof m[k]])),
  isMtlsError: [m.isMtlsError(err), m.isMtlsError(new Error('x'))],
  code: err.code,
}));
`,
  );
});

after(async () => {
  if (consumer) await rm(consumer, { recursive: true, force: true });
});

describe('package', () => {
  test('CommonJS require() gets the same named exports as ESM import', async () => {
    const esm = JSON.parse((await node(['esm.mjs'], consumer)).stdout) as { main: string[]; devCerts: string[] };
    const cjs = JSON.parse((await node(['cjs.cjs'], consumer)).stdout) as {
      main: string[];
      devCerts: string[];
      types: Record<string, string>;
      isMtlsError: boolean[];
      code: string;
    };
    for (const name of ['isMtlsError', 'MtlsError', 'MTLS_ERROR_CODES']) assert.ok(esm.main.includes(name), name);
    for (const name of ['createDevCertificates', 'createCertificateAuthority', 'createSelfSignedCertificate', 'writeDevCertificates']) {
      assert.ok(esm.devCerts.includes(name), name);
    }
    assert.deepEqual(cjs.main, esm.main);
    assert.deepEqual(cjs.devCerts, esm.devCerts);
    assert.ok(!esm.main.includes('default'), 'no default export');
    for (const [name, type] of Object.entries(cjs.types)) assert.notEqual(type, 'undefined', name);
    assert.deepEqual(cjs.isMtlsError, [true, false]);
    assert.equal(cjs.code, 'ERR_MTLS_CERT_PARSE');
  });

  test('the ESM entry exports exactly what lib/index.ts re-exports', async () => {
    const esm = JSON.parse((await node(['esm.mjs'], consumer)).stdout) as { main: string[] };
    const built = (await import(join(ROOT, 'dist', 'index.js'))) as Record<string, unknown>;
    assert.deepEqual(esm.main, Object.keys(built).sort());
  });

  test('npm pack ships only dist/, README.md, docs/ and package.json', async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolvePromise, reject) => {
      execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT }, (err, out, stderr) =>
        err ? reject(new Error(stderr)) : resolvePromise({ stdout: out }),
      );
    });
    const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    const paths = pack.files.map((f) => f.path);
    // npm always adds a LICENSE file when there is one; it belongs in the package.
    const unexpected = paths.filter(
      (p) => !(p.startsWith('dist/') || p.startsWith('docs/') || p === 'README.md' || p === 'package.json' || /^LICEN[CS]E/i.test(p)),
    );
    assert.deepEqual(unexpected, []);
    assert.deepEqual(paths.filter((p) => p.endsWith('.map')), []);
    assert.deepEqual(paths.filter((p) => /\.(pem|key|crt|p12|tgz)$/.test(p) || /(^|\/)test\//.test(p) || p.endsWith('.ts') && !p.endsWith('.d.ts')), []);
    for (const required of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/dev-certs/index.js', 'dist/dev-certs/index.d.ts', 'dist/cli.js']) {
      assert.ok(paths.includes(required), required);
    }
    // Every target the package.json points at is in the tarball.
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, string>>;
      bin: Record<string, string>;
      main: string;
      types: string;
    };
    const targets = [
      manifest.main,
      manifest.types,
      ...Object.values(manifest.bin),
      ...Object.values(manifest.exports).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v))),
    ].map((t) => t.replace(/^\.\//, ''));
    for (const target of targets) assert.ok(paths.includes(target), target);
    // Relative links in the shipped Markdown (npm's page, node_modules) point into the tarball;
    // what is not shipped (examples/, test/) is linked absolutely.
    const broken: string[] = [];
    for (const doc of paths.filter((p) => p.endsWith('.md'))) {
      const text = await readFile(join(ROOT, doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const resolved = posix.normalize(posix.join(posix.dirname(doc), target!)).replace(/\/$/, '');
        if (!paths.includes(resolved) && !paths.some((p) => p.startsWith(`${resolved}/`))) broken.push(`${doc}: ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  test('the bin script runs through the consumer install', async () => {
    const { stdout } = await node([join(consumer, 'node_modules', 'mtls-observability', 'dist', 'cli.js'), '--help'], consumer);
    assert.match(stdout, /^Usage: mtls-observability <command>/);
  });
});

/** Runs a command (npm, npx) in `cwd`; rejects with its output on a non-zero exit. */
function run(command: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(' ')} failed: ${stdout}${stderr}`)) : resolvePromise({ stdout, stderr }),
    );
  });
}

/** `name@version` of a package as the repository has it installed, so npm finds it in its cache. */
async function installedSpec(name: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${pkg.version}`;
}

/** The first fenced block with this info string (`ts`, `sh`, `` for none) in a README section: what a reader copies. */
function readmeBlock(readme: string, heading: string, info: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, heading);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end === -1 ? undefined : end);
  for (const [, lang, body] of section.matchAll(/\n```(\w*)\n([\s\S]*?\n)```\n/g)) if (lang === info) return body!;
  throw new Error(`no \`\`\`${info} block under ${heading}`);
}

/** An access line without what differs between runs: date, addresses, user agent, the new certificate's serial, dates, fingerprint. */
function normalizeAccessLine(line: string): string {
  return line
    .replace(/^\S+ /, '<addr> ')
    .replace(/\[[^\]]+\]/, '[<date>]')
    .replace(/^(.*? \d{3} \S+ "[^"]*") "[^"]*"/, '$1 "<user-agent>"')
    .replace(/ serial=[0-9A-F]+ /, ' serial=<serial> ')
    .replace(/ not_after=\S+ /, ' not_after=<date> ')
    .replace(/ fingerprint=[0-9A-F]{64}$/, ' fingerprint=<sha256>');
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = net.createServer().listen(0, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePromise(port));
    });
    server.on('error', reject);
  });
}

const TSCONFIG_STRICT_NODENEXT = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    strict: true,
    outDir: 'out',
    types: ['node'],
    // The second compile (with @opentelemetry/api) reuses the first one's checks of unchanged files.
    incremental: true,
    tsBuildInfoFile: 'out/tsconfig.tsbuildinfo',
  },
};

const CONSUMER_ESM = `import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import morgan from 'morgan';
import { getPeerIdentity, mtlsIdentity, observeTlsServer, registerMorganTokens, type PeerIdentity } from 'mtls-observability';
import { createDevCertificates, type DevCertificateSet, type NameInput } from 'mtls-observability/dev-certs';

registerMorganTokens(morgan);
const pki: DevCertificateSet = await createDevCertificates();
export const name: NameInput = [{ type: 'C', value: 'US', encoding: 'printable' }, [{ type: 'CN', value: 'a' }]];
const lines: string[] = [];
const app = express();
app.use(morgan('mtls-combined', { stream: { write: (line: string) => void lines.push(line) } }));
app.use(mtlsIdentity());
app.get('/', (req, res) => {
  const subject: string | undefined = res.locals.mtls.certificate?.subject;
  // @ts-expect-error: a misspelt field does not compile
  void res.locals.mtls.certifcate;
  const identity: PeerIdentity | undefined = getPeerIdentity(req);
  res.json({ subject, verify: res.locals.mtls.verify, same: identity === res.locals.mtls });
});
const server = https.createServer(
  { cert: pki.server.chainPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false },
  app,
);
observeTlsServer(server);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const client = pki.clients.valid;
  https.get(
    { host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca.certPem, cert: client.certPem, key: client.keyPem, agent: false },
    (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        server.close();
        setImmediate(() => console.log(JSON.stringify({ status: res.statusCode, body: JSON.parse(body) as unknown, line: lines.join('') })));
      });
    },
  );
});
`;

const CONSUMER_CJS = `import mtls = require('mtls-observability');
import devCerts = require('mtls-observability/dev-certs');
const pending: Promise<devCerts.DevCertificateSet> | undefined = undefined;
// @ts-expect-error: subject is required
const selfSigned = (): unknown => devCerts.createSelfSignedCertificate({});
const middleware: mtls.MtlsIdentityMiddleware = mtls.mtlsIdentity({ metrics: false });
const error = new mtls.MtlsError('ERR_MTLS_CERT_PARSE', 'bad');
console.log(JSON.stringify({ middleware: typeof middleware, code: error.code, isMtlsError: mtls.isMtlsError(error), devCerts: typeof devCerts.createDevCertificates, pending, selfSigned: typeof selfSigned }));
`;

const CONSUMER_OTEL = `import type { IncomingMessage } from 'node:http';
import { metrics, type Attributes, type MeterProvider } from '@opentelemetry/api';
import { mtlsIdentity, observeTlsServer, startIncomingSpanHook, type MeterProviderLike } from 'mtls-observability';

const provider: MeterProvider = metrics.getMeterProvider();
const like: MeterProviderLike = provider;
const middleware = mtlsIdentity({ metrics: { meterProvider: provider } });
// The shape @opentelemetry/instrumentation-http's startIncomingSpanHook option has.
const hook: (request: IncomingMessage) => Attributes = startIncomingSpanHook;
console.log(JSON.stringify({ middleware: typeof middleware, hook: typeof hook, like: typeof like.getMeter, observe: typeof observeTlsServer }));
`;

describe('the packed tarball in a fresh app (npm pack, npm install)', () => {
  let app: string;
  let tarball: string;
  const tsc = (project: string, ...flags: string[]) => node([join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project, ...flags], app);

  before(async () => {
    app = await mkdtemp(join(tmpdir(), 'mtls-first-app-'));
    // With its scripts: prepack builds dist/ from a clean slate, as on a fresh checkout.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', app], ROOT);
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string }];
    tarball = join(app, packed.filename);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'first-app', private: true, type: 'module' }));
    const specs = await Promise.all(['typescript', '@types/node', 'express', '@types/express', 'morgan', '@types/morgan'].map(installedSpec));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...specs], app);
  });

  after(async () => {
    if (app) await rm(app, { recursive: true, force: true });
  });

  test('prepack builds dist/, and the published declarations import no optional package', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(manifest.scripts.prepack ?? '', /npm run build$/);
    const dist = join(app, 'node_modules', 'mtls-observability', 'dist');
    const imports = new Map<string, string[]>();
    for (const file of (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.d.ts')).sort()) {
      const text = await readFile(join(dist, file), 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import)\s+'([^'.][^']*)'/g)) {
        if (specifier!.startsWith('node:')) continue;
        imports.set(specifier!, [...(imports.get(specifier!) ?? []), file]);
      }
    }
    // pkijs is a dependency (certificateModel returns its Certificate); nothing else is imported.
    assert.deepEqual(Object.fromEntries(imports), { pkijs: [join('certificate', 'model.d.ts')] });
  });

  test('strict nodenext TypeScript without skipLibCheck: compiles and runs without @opentelemetry/api, then with it', async () => {
    assert.equal(existsSync(join(app, 'node_modules', '@opentelemetry', 'api')), false);
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    await writeFile(join(app, 'consumer.mts'), CONSUMER_ESM);
    await writeFile(join(app, 'consumer.cts'), CONSUMER_CJS);
    await writeFile(join(app, 'readme-usage.mts'), readmeBlock(readme, '## Usage', 'ts'));
    await writeFile(join(app, 'consumer-otel.mts'), CONSUMER_OTEL);
    const files = ['consumer.mts', 'consumer.cts', 'readme-usage.mts'];
    await writeFile(join(app, 'tsconfig.cjs.json'), JSON.stringify({ ...TSCONFIG_STRICT_NODENEXT, files: ['consumer.cts'] }));
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG_STRICT_NODENEXT, files }));
    await writeFile(join(app, 'tsconfig.otel.json'), JSON.stringify({ ...TSCONFIG_STRICT_NODENEXT, files: [...files, 'consumer-otel.mts'] }));

    // An app without Express: the Locals augmentation needs no Express types (none are loaded).
    const cjsOnly = (await tsc('tsconfig.cjs.json', '--listFiles')).stdout.split('\n').filter(Boolean);
    assert.deepEqual(cjsOnly.filter((f) => /@types\/(express|express-serve-static-core)\//.test(f)), []);
    assert.ok(cjsOnly.some((f) => f.endsWith('/node_modules/mtls-observability/dist/middleware.d.ts')));
    assert.equal((await tsc('tsconfig.json')).stdout, '');
    const esm = JSON.parse((await node([join('out', 'consumer.mjs')], app)).stdout) as { status: number; body: unknown; line: string };
    assert.equal(esm.status, 200);
    assert.deepEqual(esm.body, { subject: 'CN=alice,O=mtls-observability demo', verify: 'SUCCESS', same: true });
    assert.match(esm.line, / verify=SUCCESS subject="CN=alice,O=mtls-observability demo" issuer="CN=mtls-observability development CA" /);
    const cjs = JSON.parse((await node([join('out', 'consumer.cjs')], app)).stdout) as unknown;
    assert.deepEqual(cjs, { middleware: 'function', code: 'ERR_MTLS_CERT_PARSE', isMtlsError: true, devCerts: 'function', selfSigned: 'function' });
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', await installedSpec('@opentelemetry/api')], app);
    assert.equal((await tsc('tsconfig.otel.json')).stdout, '');
    const otel = JSON.parse((await node([join('out', 'consumer-otel.mjs')], app)).stdout) as unknown;
    assert.deepEqual(otel, { middleware: 'function', hook: 'function', like: 'function', observe: 'function' });
    assert.equal((JSON.parse((await node([join('out', 'consumer.mjs')], app)).stdout) as { status: number }).status, 200);
  });

  test('the README Usage example runs as pasted, with certificates from npx mtls-observability dev-certs, and logs the README line', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const commands = readmeBlock(readme, '## Usage', 'sh').split('\n').filter(Boolean);
    assert.deepEqual(commands.map((c) => c.replace(/ +#.*/, '')), [
      'npm install mtls-observability express morgan',
      'npx mtls-observability dev-certs ./certs',
      'node server.mjs',
      'curl --cacert certs/ca.pem --cert certs/client-valid.pem --key certs/client-valid-key.pem https://localhost:8443/',
    ]);
    const code = readmeBlock(readme, '## Usage', 'ts');
    assert.equal(code.split('8443').length - 1, 2, 'the example listens on 8443 and says so');
    const sample = readmeBlock(readme, '## Usage', '').trim();
    assert.match(sample, / "GET \/ HTTP\/1\.1" 200 64 /);

    const port = await freePort();
    await writeFile(join(app, 'server.mjs'), code.replaceAll('8443', String(port)));
    await run('npx', ['mtls-observability', 'dev-certs', './certs'], app);
    const server = spawn(process.execPath, ['server.mjs'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    server.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    server.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise((resolvePromise) => server.once('exit', resolvePromise));
    try {
      const waitFor = async (pattern: RegExp) => {
        for (const deadline = Date.now() + 10_000; !pattern.test(output); ) {
          if (server.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} in:\n${output}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await waitFor(new RegExp(`^listening on https://localhost:${port}\n`));
      const file = (name: string) => readFile(join(app, 'certs', name));
      const [ca, cert, key] = await Promise.all([file('ca.pem'), file('client-valid.pem'), file('client-valid-key.pem')]);
      const body = await new Promise<string>((resolvePromise, reject) => {
        https
          .get({ host: 'localhost', port, path: '/', ca, cert, key, agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolvePromise(text));
          })
          .on('error', reject);
      });
      assert.equal(body, '{"verified":true,"subject":"CN=alice,O=mtls-observability demo"}');
      assert.ok(readme.includes(`curl prints \`${body}\``));
      await waitFor(/\n.* fingerprint=[0-9A-F]{64}\n/);
      const line = output.split('\n')[1]!;
      assert.equal(normalizeAccessLine(line), normalizeAccessLine(sample));
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
  });
});
