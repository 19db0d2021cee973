/**
 * The full gateway, configured from the environment (and `SWITCHYARD_CONFIG`, a YAML or JSON file). All of
 * it lives in `@switchyard/server`, which also ships the `switchyard` command: this example is what
 * `pnpm start` runs in the workspace.
 */
export { startServer, type StartedServer } from '@switchyard/server';
