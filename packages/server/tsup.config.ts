import { defineConfig } from 'tsup';

export default defineConfig({
  // The CLI is its own entry: `bin` points at dist/cli.js, which keeps the `#!/usr/bin/env node` line of
  // src/cli.ts (esbuild preserves an entry point's hashbang).
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm'],
  // The tsconfig is a composite project for `tsc -b`; tsup's declaration build lists only the entries and
  // composite projects must list every file, so it is turned off for this build alone.
  dts: { entry: 'src/index.ts', compilerOptions: { composite: false } },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
