import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  // The tsconfig is a composite project for `tsc -b`; tsup's declaration build lists only the entry and
  // composite projects must list every file, so it is turned off for this build alone.
  dts: { compilerOptions: { composite: false } },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
