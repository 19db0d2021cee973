import { readFileSync } from 'node:fs';
import { renderTable } from './table.js';

/*
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and says where the time went: by package (core,
 * providers, koa, zod, undici, Node itself…) and by function, both as self time and as total time
 * (the function and everything it called). Idle time is left out, so shares are of busy time.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const idleFrames = new Set(['(idle)', '(program)']);

/** The package a script belongs to: workspace packages by folder, dependencies by their npm name. */
export function packageOf(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node';
  const workspace = /\/packages\/([^/]+)\/src\//.exec(url);
  if (workspace) return `@switchyard/${workspace[1]}`;
  if (url.includes('/bench/')) return 'bench';
  const dependency = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(url);
  if (dependency) return dependency[1]!;
  return url.replace(/^file:\/\//, '');
}

function shortLocation(url: string, line: number): string {
  const trimmed = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/^.*\/(packages\/[^/]+\/src\/)/, '$1');
  return trimmed === '' ? '' : `${trimmed}:${line + 1}`;
}

export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

  const selfMicroseconds = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index]!;
    selfMicroseconds.set(id, (selfMicroseconds.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  }

  const keyOf = (node: ProfileNode) => `${node.callFrame.functionName || '(anonymous)'} ${shortLocation(node.callFrame.url, node.callFrame.lineNumber)}`;
  const selfByFunction = new Map<string, number>();
  const totalByFunction = new Map<string, number>();
  const selfByPackage = new Map<string, number>();
  let busy = 0;
  for (const [id, microseconds] of selfMicroseconds) {
    const node = nodes.get(id)!;
    if (idleFrames.has(node.callFrame.functionName)) continue;
    busy += microseconds;
    const key = keyOf(node);
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + microseconds);
    const name = node.callFrame.url === '' ? node.callFrame.functionName : packageOf(node.callFrame.url);
    selfByPackage.set(name, (selfByPackage.get(name) ?? 0) + microseconds);
    // Total time: credit every distinct function on the stack once, so recursion is not counted twice.
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
      const frame = nodes.get(current)!;
      if (frame.callFrame.functionName === '(root)') break;
      const frameKey = keyOf(frame);
      if (seen.has(frameKey)) continue;
      seen.add(frameKey);
      totalByFunction.set(frameKey, (totalByFunction.get(frameKey) ?? 0) + microseconds);
    }
  }

  const share = (microseconds: number) => `${((microseconds / busy) * 100).toFixed(1)} %`;
  const ranked = (map: Map<string, number>, count: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, count);
  return [
    `Busy time ${(busy / 1e6).toFixed(2)} s (idle excluded).`,
    '',
    'Self time by package',
    renderTable(['package', 'self'], ranked(selfByPackage, 15).map(([name, microseconds]) => [name, share(microseconds)])),
    '',
    `Top ${top} functions by self time`,
    renderTable(['function', 'self'], ranked(selfByFunction, top).map(([name, microseconds]) => [name, share(microseconds)])),
    '',
    `Top ${top} functions by total time (self + callees)`,
    renderTable(['function', 'total'], ranked(totalByFunction, top).map(([name, microseconds]) => [name, share(microseconds)])),
  ].join('\n');
}

// `node --import tsx bench/lib/profile-summary.ts <file.cpuprofile> [top]` summarises a saved profile.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('Usage: node --import tsx bench/lib/profile-summary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(summarizeProfile(file, top ? Number(top) : 25));
}
