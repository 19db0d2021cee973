import { startServer } from './server.js';

const server = await startServer();

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    server.gateway.logger.info({ signal }, 'shutting down: draining in-flight requests');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.gateway.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
