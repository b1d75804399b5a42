#!/usr/bin/env node
/**
 * `mtls-observability` command line. One command:
 * `mtls-observability dev-certs <dir> [--force]` writes the development PKI.
 *
 * Exit codes: 0 success or `--help`, 1 failure (e.g. files exist), 2 usage error.
 */
import { parseArgs } from 'node:util';
import { resolve, basename } from 'node:path';

const USAGE = `Usage: mtls-observability <command> [options]

Commands:
  dev-certs <dir> [--force]  Write a development CA, a localhost server certificate and one
                             client certificate per verification outcome into <dir>.
                             Refuses to overwrite existing files unless --force is given.

Options:
  -h, --help                 Show this help.

Development certificates only: the keys are unencrypted. See docs/dev-certs.md.
`;

const FILE_NOTES: Readonly<Record<string, string>> = {
  'ca.pem': 'trusted development CA (give it to servers as `ca` and to clients as --cacert)',
  'server.pem': 'server certificate for localhost, 127.0.0.1 and ::1',
  'server-key.pem': 'server private key',
  'client-valid.pem': 'CN=alice, SPIFFE ID spiffe://example.org/ns/demo/sa/alice: verifies',
  'client-expired.pem': 'expired: CERT_HAS_EXPIRED',
  'client-not-yet-valid.pem': 'not yet valid: CERT_NOT_YET_VALID',
  'client-untrusted.pem': 'issued by a CA nobody trusts: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'client-self-signed.pem': 'self-signed: DEPTH_ZERO_SELF_SIGNED_CERT',
  'client-wrong-eku.pem': 'serverAuth only: INVALID_PURPOSE',
  'client-hostile.pem': 'verifies, but its CN tries to forge an access-log line',
};

class UsageError extends Error {}

/** Quotes a path for a POSIX shell when it needs it. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function describeWritten(dir: string, paths: readonly string[]): string {
  const width = Math.max(...paths.map((p) => basename(p).length));
  const lines = paths.map((p) => {
    const name = basename(p);
    const note = FILE_NOTES[name] ?? (name.endsWith('-key.pem') ? 'private key (mode 0600)' : '');
    return `  ${name.padEnd(width)}  ${note}`.trimEnd();
  });
  const q = (name: string) => shellQuote(resolve(dir, name));
  const js = (name: string) => JSON.stringify(resolve(dir, name));
  return `Wrote ${paths.length} files to ${resolve(dir)}:
${lines.join('\n')}

A node:https server that asks for client certificates (save as server.mjs, run with node server.mjs):

import https from 'node:https';
import { readFileSync } from 'node:fs';
https
  .createServer(
    {
      cert: readFileSync(${js('server.pem')}),
      key: readFileSync(${js('server-key.pem')}),
      ca: readFileSync(${js('ca.pem')}),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const { authorized, authorizationError } = req.socket;
      const subject = req.socket.getPeerX509Certificate()?.subject ?? '-';
      res.end(JSON.stringify({ authorized, authorizationError, subject }) + '\\n');
    },
  )
  .listen(8443, '127.0.0.1');

Then call it with the valid client certificate (try the other client-*.pem files too):

curl --cert ${q('client-valid.pem')} --key ${q('client-valid-key.pem')} --cacert ${q('ca.pem')} https://localhost:8443/
`;
}

async function devCerts(args: readonly string[], out: (s: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.values.help) {
    out(USAGE);
    return 0;
  }
  if (parsed.positionals.length === 0) throw new UsageError('dev-certs needs a directory: mtls-observability dev-certs <dir>');
  if (parsed.positionals.length > 1) throw new UsageError(`dev-certs takes one directory, got ${parsed.positionals.length} arguments`);
  const dir = parsed.positionals[0]!;
  // Loaded only here: pkijs is most of the start-up time, and --help or a typo should be instant.
  const { writeDevCertificates } = await import('./dev-certs/index.js');
  try {
    const paths = await writeDevCertificates(dir, undefined, { overwrite: parsed.values.force === true });
    out(describeWritten(dir, paths));
    return 0;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { paths?: string[] };
    if (e.code === 'EEXIST' && e.paths) {
      process.stderr.write(
        `mtls-observability: refusing to overwrite existing files:\n${e.paths.map((p) => `  ${p}`).join('\n')}\n` +
          'Nothing was written. Use --force to replace them.\n',
      );
      return 1;
    }
    process.stderr.write(`mtls-observability: ${e.message}\n`);
    return 1;
  }
}

/** Runs the CLI with `argv` (without node and the script path); resolves to the exit code. */
async function main(argv: readonly string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s);
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      out(USAGE);
      return 2;
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      out(USAGE);
      return 0;
    }
    if (command === 'dev-certs') return await devCerts(rest, out);
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`mtls-observability: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mtls-observability: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
