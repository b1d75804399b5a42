/**
 * Compares two V8 .cpuprofile files per request: self time per function in A and in B (µs per
 * request), sorted by the difference, to find what a variant adds over its reference.
 * Usage: node --import tsx bench/profile-diff.ts A.cpuprofile requestsA B.cpuprofile requestsB [top]
 * (request counts: run the bench with BENCH_COUNT_REQUESTS=1; it prints them when servers exit).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function selfPerFunction(file: string): Map<string, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '').replace(/.*\/work\/main\//, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return out;
}

const [fileA, nA, fileB, nB, topArg] = process.argv.slice(2);
if (!fileA || !nA || !fileB || !nB) throw new TypeError('usage: profile-diff.ts A.cpuprofile requestsA B.cpuprofile requestsB [top]');
const a = selfPerFunction(fileA);
const b = selfPerFunction(fileB);
const rows = [...new Set([...a.keys(), ...b.keys()])]
  .filter((k) => !k.startsWith('(idle)'))
  .map((k) => ({ k, a: (a.get(k) ?? 0) / Number(nA), b: (b.get(k) ?? 0) / Number(nB) }))
  .sort((x, y) => Math.abs(y.a - y.b) - Math.abs(x.a - x.b))
  .slice(0, Number(topArg ?? 30));
const total = (m: Map<string, number>, n: string) =>
  [...m].filter(([k]) => !k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0) / Number(n);
console.log(`busy µs/request: A ${total(a, nA).toFixed(1)}  B ${total(b, nB).toFixed(1)}`);
console.log('     A µs/req      B µs/req     A - B  function');
for (const r of rows) console.log(`${r.a.toFixed(2).padStart(12)} ${r.b.toFixed(2).padStart(12)} ${(r.a - r.b).toFixed(2).padStart(9)}  ${r.k}`);
