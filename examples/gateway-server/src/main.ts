import { handleShutdown, startServer } from '@switchyard/server';

// SIGTERM and SIGINT stop accepting, drain in-flight streams up to the deadline, flush the ledger, exit 0.
handleShutdown(await startServer());
