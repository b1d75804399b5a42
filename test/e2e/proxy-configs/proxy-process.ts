/**
 * Runs a real proxy (nginx, HAProxy) as a child process of an end-to-end test: renders a config
 * from this folder into a temp dir, starts it on a free loopback port, waits until it accepts
 * connections, and stops it (and removes the temp dir) afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DevCertificateSet } from '../../../lib/dev-certs/index.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** A free TCP port on 127.0.0.1 (the OS picks it; a proxy then binds it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The config file `name` of this folder with every `{{KEY}}` replaced; unknown keys throw. */
export async function renderConfig(name: string, values: Readonly<Record<string, string | number>>): Promise<string> {
  const template = await readFile(path.join(HERE, name), 'utf8');
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${name}: no value for {{${key}}}`);
    return String(value);
  });
}

async function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`proxy exited (${child.exitCode ?? child.signalCode}) before listening:\n${output()}`);
    }
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (connected) return;
    if (Date.now() > deadline) throw new Error(`proxy did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A running proxy. */
export interface RunningProxy {
  readonly port: number;
  readonly dir: string;
  /** What the process wrote to stdout and stderr so far. */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes the temp dir. */
  stop(): Promise<void>;
}

/** Options of {@link startProxy}. */
export interface StartProxyOptions {
  /** Temp-dir name prefix. */
  readonly name: string;
  /** Files to write into the temp dir first (certificates, keys). */
  readonly files: Readonly<Record<string, string>>;
  /** Config template in this folder, and the file name to render it to. */
  readonly config: string;
  /** Extra template values; `DIR`, `LISTEN_PORT` and one per file (`SERVER_CERT` for `server-cert.pem`) are added. */
  readonly values: Readonly<Record<string, string | number>>;
  /** The command line, given the temp dir and the rendered config's path. */
  readonly command: (dir: string, configPath: string) => readonly [string, ...string[]];
  /** Extra environment variables, given the temp dir. */
  readonly env?: (dir: string) => Readonly<Record<string, string>>;
}

/** Starts a proxy; retries with another port if the chosen one was taken meanwhile. */
export async function startProxy(options: StartProxyOptions): Promise<RunningProxy> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await mkdtemp(path.join(tmpdir(), `${options.name}-`));
    const values: Record<string, string | number> = { ...options.values, DIR: dir };
    for (const [file, content] of Object.entries(options.files)) {
      const target = path.join(dir, file);
      await writeFile(target, content, { mode: 0o600 });
      values[file.replace(/\.[a-z]+$/, '').replace(/-/g, '_').toUpperCase()] = target;
    }
    const port = await freePort();
    values.LISTEN_PORT = port;
    const configPath = path.join(dir, options.config);
    await writeFile(configPath, await renderConfig(options.config, values));
    const [command, ...args] = options.command(dir, configPath);
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env?.(dir) },
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        output += String(error);
        resolve();
      });
    });
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitForPort(port, child, () => output, 10_000);
      return { port, dir, output: () => output, stop };
    } catch (error) {
      lastError = error;
      await stop();
      if (!/Address already in use|cannot bind/i.test(String(error))) break;
    }
  }
  throw lastError;
}

/** nginx with nginx.conf (the test PKI's server certificate and CA) in front of the app on `appPort`. */
export function startNginx(name: string, pki: DevCertificateSet, appPort: number): Promise<RunningProxy> {
  return startProxy({
    name,
    config: 'nginx.conf',
    files: {
      'server-cert.pem': pki.server.chainPem,
      'server-key.pem': pki.server.keyPem,
      'client-ca.pem': pki.ca.certPem,
    },
    values: { APP_PORT: appPort },
    command: (dir, conf) => ['nginx', '-p', dir, '-c', conf, '-g', 'daemon off;'],
  });
}
