/**
 * Packaging: what a consumer gets after `npm run build` (npm test builds first). A consumer
 * project in a temp dir links the package into its node_modules, like an install would.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
  });

  test('TypeScript consumers (ESM and CommonJS, module nodenext) get the declarations', async () => {
    await writeFile(
      join(consumer, 'types.mts'),
      `import { isMtlsError, MtlsError } from 'mtls-observability';
import { createDevCertificates, type DevCertificateSet, type NameInput } from 'mtls-observability/dev-certs';
const set: DevCertificateSet = await createDevCertificates();
const name: NameInput = [{ type: 'C', value: 'US', encoding: 'printable' }, [{ type: 'CN', value: 'a' }]];
const ok: boolean = isMtlsError(new MtlsError('ERR_MTLS_CERT_PARSE', 'x'));
export { set, name, ok };
`,
    );
    await writeFile(
      join(consumer, 'types.cts'),
      `import mtls = require('mtls-observability');
import devCerts = require('mtls-observability/dev-certs');
const ok: boolean = mtls.isMtlsError(new mtls.MtlsError('ERR_MTLS_CERT_PARSE', 'x'));
const pending: Promise<devCerts.DevCertificateSet> = devCerts.createDevCertificates();
// @ts-expect-error: subject is required
void devCerts.createSelfSignedCertificate({});
export = { ok, pending };
`,
    );
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['types.mts', 'types.cts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const { stdout } = await node([tsc, '-p', 'tsconfig.json'], consumer).catch((err: Error) => {
      throw new Error(`tsc failed in the consumer: ${err.message}`);
    });
    assert.equal(stdout, '');
  });

  test('the bin script runs through the consumer install', async () => {
    const { stdout } = await node([join(consumer, 'node_modules', 'mtls-observability', 'dist', 'cli.js'), '--help'], consumer);
    assert.match(stdout, /^Usage: mtls-observability <command>/);
  });
});
