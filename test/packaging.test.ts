import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTextGenMock, mockApiKey as textGenApiKey } from '../examples/custom-provider/test/textgen-mock.js';
import { type ExampleProcess, startExample } from '../examples/minimal/test/example-process.js';
import { startOpenAIMock } from '../examples/minimal/test/openai-mock.js';
import { run } from './helpers/run.js';
import { exportTargets, listTarball, readTarballFile, relativeImports } from './helpers/tarball.js';

/*
 * Proves every public package is really publishable: packs each one the way `pnpm publish` would (the
 * `prepack` script builds it), checks what the tarball holds, installs the tarballs into a directory
 * outside the workspace with npm (dependencies from the registry), and runs the minimal example and a
 * gateway with the separately packaged TextGen provider from there, in plain Node: no workspace links,
 * no `@switchyard/source` condition, no TypeScript loader.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const workspaceGlobs = ['packages', 'examples'];
/** The condition that points workspace tools at TypeScript sources; consumers never set it. */
const sourceCondition = '@switchyard/source';

interface PublicPackage {
  name: string;
  dir: string;
  manifest: Record<string, unknown>;
}

function publicPackages(): PublicPackage[] {
  const packages: PublicPackage[] = [];
  for (const parent of workspaceGlobs) {
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      const manifestPath = join(root, parent, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
      if (manifest.private === true) continue;
      packages.push({ name: manifest.name as string, dir: join(root, parent, entry.name), manifest });
    }
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}

/** Files a package installs as commands: `bin` is a path or a map of command names to paths. */
function binTargets(manifest: Record<string, any>): string[] {
  if (typeof manifest.bin === 'string') return [manifest.bin];
  return Object.values((manifest.bin ?? {}) as Record<string, string>);
}

interface Packed {
  name: string;
  tarball: string;
  files: string[];
  manifest: Record<string, any>;
}

const packages = publicPackages();
const workDir = mkdtempSync(join(tmpdir(), 'switchyard-packaging-'));
const tarballDir = join(workDir, 'tarballs');
const appDir = join(workDir, 'app');
const packed = new Map<string, Packed>();

// Building every package dominates the time: about a minute on two cores, more when they are busy.
beforeAll(async () => {
  mkdirSync(tarballDir);
  mkdirSync(appDir);
  // One recursive pack: pnpm orders it by dependencies, builds each package in its `prepack` script and
  // rewrites `workspace:` ranges to real versions, exactly as `pnpm publish` does.
  await run('pnpm', ['-r', ...packages.flatMap((item) => ['--filter', item.name]), 'pack', '--pack-destination', tarballDir], { cwd: root, timeoutMs: 180_000 });
  const tarballs = readdirSync(tarballDir).filter((file) => file.endsWith('.tgz'));
  for (const file of tarballs) {
    const tarball = join(tarballDir, file);
    const manifest = JSON.parse(await readTarballFile(tarball, 'package.json')) as Record<string, any>;
    packed.set(manifest.name, { name: manifest.name, tarball, files: await listTarball(tarball), manifest });
  }

  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'switchyard-packaging-check', private: true, type: 'module' }, null, 2));
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', '@types/node@20', ...[...packed.values()].map((item) => item.tarball)],
    { cwd: appDir, timeoutMs: 120_000, env: { npm_config_engine_strict: 'false' } },
  );
}, 300_000);

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('packed packages', () => {
  it('packs every public workspace package', () => {
    expect(packages.length).toBeGreaterThanOrEqual(2);
    expect([...packed.keys()].sort()).toEqual(packages.map((item) => item.name));
  });

  describe.each(packages.map((item) => item.name))('%s', (name) => {
    const get = () => packed.get(name)!;

    it('has the fields a registry and its consumers need', () => {
      const { manifest } = get();
      expect(manifest.private).toBeUndefined();
      expect(manifest.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(manifest.type).toBe('module');
      expect(manifest.license).toBeTruthy();
      expect(manifest.description).toBeTruthy();
      expect(manifest.engines?.node).toMatch(/^>=\s*20/);
    });

    it('names real versions for every dependency, no workspace ranges', () => {
      const { manifest } = get();
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
        for (const [dependency, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
          expect(range, `${field}.${dependency}`).not.toMatch(/^workspace:/);
          if (dependency.startsWith('@switchyard/')) {
            const version = packed.get(dependency)?.manifest.version;
            expect(range, `${field}.${dependency} must accept the version packed beside it`).toBe(`^${version}`);
          }
        }
      }
    });

    it('exports ESM and types from files the tarball holds', () => {
      const { manifest, files } = get();
      const main = manifest.exports?.['.'];
      expect(main?.types).toMatch(/\.d\.ts$/);
      expect(main?.import).toMatch(/\.js$/);
      // The TypeScript resolver takes the first matching condition: `types` must come before `import`.
      const conditions = Object.keys(main).filter((condition) => condition !== sourceCondition);
      expect(conditions.indexOf('types')).toBeLessThan(conditions.indexOf('import'));
      const targets = [...exportTargets(manifest.exports, [sourceCondition]), manifest.main, manifest.types, ...binTargets(manifest)].filter(Boolean) as string[];
      for (const target of targets) expect(files, `${target} is exported but not packed`).toContain(target.replace(/^\.\//, ''));
    });

    it('ships the build and the README, and no sources, tests or build state', () => {
      const { files } = get();
      expect(files).toContain('package.json');
      expect(files).toContain('README.md');
      expect(files).toContain('dist/index.js');
      expect(files).toContain('dist/index.d.ts');
      for (const file of files) {
        expect(file).not.toMatch(/^src\//);
        expect(file).not.toMatch(/\.test\.|\.tsbuildinfo$|__fixtures__|(^|\/)test-utils\//);
      }
    });

    it('holds every module its entry points import', async () => {
      const { tarball, files, manifest } = get();
      const entryPoints = [...exportTargets(manifest.exports, [sourceCondition]), ...binTargets(manifest)].filter((target) => target.endsWith('.js'));
      expect(entryPoints.length).toBeGreaterThan(0);
      const pending = entryPoints.map((target) => target.replace(/^\.\//, ''));
      const seen = new Set<string>();
      while (pending.length > 0) {
        const file = pending.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        expect(files, `${file} is imported but not packed`).toContain(file);
        const directory = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '';
        for (const specifier of relativeImports(await readTarballFile(tarball, file))) {
          pending.push(resolve('/', directory, specifier).slice(1));
        }
      }
    });
  });
});

describe('installed from the tarballs outside the workspace', () => {
  it('resolves each package to its tarball, once', () => {
    for (const item of packed.values()) {
      const installed = JSON.parse(readFileSync(join(appDir, 'node_modules', item.name, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(installed.version).toBe(item.manifest.version);
      expect(existsSync(join(appDir, 'node_modules', item.name, 'src'))).toBe(false);
    }
    // A second copy of core nested under a dependent would mean the ranges did not match the packed core.
    const nested = readdirSync(join(appDir, 'node_modules', '@switchyard')).filter((dir) => existsSync(join(appDir, 'node_modules', '@switchyard', dir, 'node_modules', '@switchyard')));
    expect(nested).toEqual([]);
  });

  it('imports every package in plain Node', async () => {
    const names = [...packed.keys()];
    const script = `const names = ${JSON.stringify(names)};
const result = {};
for (const name of names) result[name] = Object.keys(await import(name)).sort();
console.log(JSON.stringify(result));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: appDir, timeoutMs: 60_000 });
    const exported = JSON.parse(stdout) as Record<string, string[]>;
    for (const name of names) expect(exported[name]!.length, `${name} exports nothing`).toBeGreaterThan(0);
    expect(exported['@switchyard/core']).toEqual(expect.arrayContaining(['createGateway', 'GatewayError', 'definePlugin']));
    expect(exported['@switchyard/providers']).toEqual(expect.arrayContaining(['createOpenAI', 'createOpenAICompatible', 'HttpClient']));
  });

  it('type-checks a TypeScript consumer against the published declarations', async () => {
    const names = [...packed.keys()];
    writeFileSync(
      join(appDir, 'consumer.ts'),
      `${names.map((name, index) => `import * as package${index} from '${name}';`).join('\n')}
import { createGateway, type ProviderV1 } from '@switchyard/core';
import { createOpenAI } from '@switchyard/providers';

const provider: ProviderV1 = createOpenAI({ apiKey: 'sk-test' });
const gateway = createGateway({ providers: [provider] });
export const ready: Promise<void> = gateway.ready;
export const modules = [${names.map((_, index) => `package${index}`).join(', ')}];
`,
    );
    writeFileSync(
      join(appDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
        files: ['consumer.ts'],
      }),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: appDir, timeoutMs: 90_000 });
  });

  describe('the minimal example', () => {
    let upstream: MockUpstream;
    let example: ExampleProcess;

    beforeAll(async () => {
      // The example's own file, with its types stripped: what a user would run after building it.
      const source = readFileSync(join(root, 'examples/minimal/src/main.ts'), 'utf8');
      const output = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
      writeFileSync(join(appDir, 'minimal.js'), output.outputText);
      upstream = await startOpenAIMock();
      example = await startExample({
        args: ['minimal.js'],
        cwd: appDir,
        env: { OPENAI_API_KEY: 'sk-packaged', OPENAI_BASE_URL: `${upstream.url}/v1`, PORT: '0', LOG_LEVEL: 'warn' },
      });
    }, 60_000);

    afterAll(async () => {
      await example?.stop();
      await upstream?.close();
    });

    it('serves a chat completion and a stream through the mock upstream', async () => {
      const client = new OpenAI({ baseURL: `${example.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from the tarballs' }] });
      expect(completion.choices[0]!.message.content).toBe('You said: from the tarballs');
      expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer sk-packaged');

      const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'streamed' }], stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('You said: streamed');
    });

    it('exits cleanly on SIGTERM', async () => {
      expect(await example.stop()).toBe(0);
    });
  });

  describe('a gateway with the separately packaged TextGen provider', () => {
    let upstream: MockUpstream;
    let server: ExampleProcess;

    beforeAll(async () => {
      writeFileSync(
        join(appDir, 'textgen-gateway.js'),
        `import { createGateway, silentLogger } from '@switchyard/core';
import { createTextGen } from '@switchyard/provider-textgen';

const gateway = createGateway({
  providers: [createTextGen({ baseURL: process.env.TEXTGEN_BASE_URL, apiKey: process.env.TEXTGEN_API_KEY })],
  logger: silentLogger,
});
const { url } = await gateway.listen(0);
console.log(\`listening on \${url}\`);
process.once('SIGTERM', () => void gateway.close());
`,
      );
      upstream = await startTextGenMock();
      server = await startExample({
        args: ['textgen-gateway.js'],
        cwd: appDir,
        env: { TEXTGEN_BASE_URL: `${upstream.url}/v1`, TEXTGEN_API_KEY: textGenApiKey },
      });
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await upstream?.close();
    });

    it('answers through the TextGen API, streamed and not', async () => {
      expect(packed.has('@switchyard/provider-textgen')).toBe(true);
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const completion = await client.chat.completions.create({ model: 'textgen/tg-small', messages: [{ role: 'user', content: 'packed provider' }] });
      expect(completion.choices[0]!.message.content).toBe('You said: packed provider');
      expect(upstream.requests.at(-1)!.url).toBe('/v1/generate');

      const stream = await client.chat.completions.create({ model: 'textgen/tg-small', messages: [{ role: 'user', content: 'streamed provider' }], stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('You said: streamed provider');
    });
  });
});
