import { run } from './run.js';

/** Paths inside a package tarball, without npm's `package/` prefix. */
export async function listTarball(file: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', file], { cwd: process.cwd(), timeoutMs: 30_000 });
  return stdout
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''));
}

/** One file of a tarball as text. */
export async function readTarballFile(file: string, path: string): Promise<string> {
  const { stdout } = await run('tar', ['-xzOf', file, `package/${path}`], { cwd: process.cwd(), timeoutMs: 30_000 });
  return stdout;
}

/** Every file an `exports` map points at, skipping the conditions listed in `ignoredConditions`. */
export function exportTargets(exportsField: unknown, ignoredConditions: readonly string[]): string[] {
  if (typeof exportsField === 'string') return [exportsField];
  if (Array.isArray(exportsField)) return exportsField.flatMap((entry) => exportTargets(entry, ignoredConditions));
  if (typeof exportsField !== 'object' || exportsField === null) return [];
  return Object.entries(exportsField).flatMap(([key, value]) => (ignoredConditions.includes(key) ? [] : exportTargets(value, ignoredConditions)));
}

/** Relative module specifiers of a built ESM file (`./x.js`, `../y.js`), static or dynamic. */
export function relativeImports(source: string): string[] {
  const specifiers = new Set<string>();
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)) specifiers.add(match[1]!);
  return [...specifiers];
}
