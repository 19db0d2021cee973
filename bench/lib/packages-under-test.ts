/*
 * Which code the benchmarked processes run. By default the workspace packages as built by `pnpm build`
 * (tsup's ESM output, what users install and deploy); `pnpm bench --source` runs their TypeScript sources
 * through tsx instead, as the tests do, which costs measurably more (tsx keeps function names with a
 * helper call per closure) but needs no build. The choice reaches every child through one variable.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packagesVariable = 'SWITCHYARD_BENCH_PACKAGES';

export type PackagesUnderTest = 'built' | 'source';

const workspaceRoot = fileURLToPath(new URL('../..', import.meta.url));

export function packagesUnderTest(): PackagesUnderTest {
  return process.env[packagesVariable] === 'built' ? 'built' : 'source';
}

/** Node flags for a child: tsx for the benchmark's own TypeScript, plus the source condition when measuring sources. */
export function childNodeFlags(): string[] {
  return packagesUnderTest() === 'built' ? ['--import', 'tsx'] : ['--conditions=@switchyard/source', '--import', 'tsx'];
}

/** The `switchyard` command's entry point for the packages under test. */
export function serverCliEntry(): string {
  return join(workspaceRoot, 'packages/server', packagesUnderTest() === 'built' ? 'dist/cli.js' : 'src/cli.ts');
}

function newestSourceTime(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== '__fixtures__') newest = Math.max(newest, newestSourceTime(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

function oldestBuildTime(directory: string): number | undefined {
  if (!existsSync(directory)) return undefined;
  const outputs = readdirSync(directory).filter((name) => name.endsWith('.js'));
  if (outputs.length === 0) return undefined;
  return Math.min(...outputs.map((name) => statSync(join(directory, name)).mtimeMs));
}

/**
 * Builds each workspace package whose build is missing or older than its sources, so a benchmark of the
 * built packages never measures yesterday's code. Returns the packages it built.
 */
export function buildStalePackages(log: (message: string) => void): string[] {
  const packagesDirectory = join(workspaceRoot, 'packages');
  const stale = readdirSync(packagesDirectory).filter((name) => {
    const root = join(packagesDirectory, name);
    if (!existsSync(join(root, 'src'))) return false;
    const built = oldestBuildTime(join(root, 'dist'));
    return built === undefined || newestSourceTime(join(root, 'src')) > built;
  });
  if (stale.length === 0) return [];
  log(`building ${stale.join(', ')} (their build is missing or older than their sources)…`);
  const filters = stale.flatMap((name) => ['--filter', `./packages/${name}`]);
  execFileSync('pnpm', [...filters, 'run', 'build'], { cwd: workspaceRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  return stale;
}
