import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from '@koa/cors';
import Router from '@koa/router';
import Koa from 'koa';
import type { DependencyContainer } from 'tsyringe';
import { type Clock, createGatewayContainer, systemClock } from './container.js';
import { Cancellation } from './cancellation.js';
import type { Operation, RequestContext, Target } from './context.js';
import { GatewayError, toGatewayError } from './errors.js';
import { InFlightRequests } from './in-flight.js';
import { readJsonBody } from './http/body.js';
import { writeError, writeJson } from './http/respond.js';
import { ResponseHeaders } from './http/response-headers.js';
import { SseWriter } from './http/sse.js';
import { createDefaultLogger, type Logger } from './logger.js';
import { Pipeline, type Responder } from './pipeline.js';
import { checkPlugins, type Plugin } from './plugin.js';
import type { ProviderV1 } from './provider.js';
import { ProviderRegistry } from './provider-registry.js';
import { randomId } from './random-id.js';
import { parseChatCompletionRequest, parseEmbeddingRequest } from './wire/schemas.js';

export interface GatewayOptions {
  providers: readonly ProviderV1[];
  /** Run in this order: a plugin's hooks see what the plugins before it did. */
  plugins?: readonly Plugin[];
  /** Extra model names: `{ fast: 'openai/gpt-4o-mini' }`. */
  aliases?: Record<string, string>;
  logger?: Logger;
  clock?: Clock;
  /** Largest request body in bytes; larger ones get a 413. Default 4 MiB. */
  bodyLimitBytes?: number;
  /** Deepest JSON nesting accepted. Default 64. */
  maxJsonDepth?: number;
  /** Trust `x-forwarded-for` for the client IP (only behind a proxy you run). Default false. */
  trustProxy?: boolean;
  /** How long `close()` waits for in-flight requests and streams before cutting them. Default 10 s. */
  drainTimeoutMs?: number;
  /**
   * Cross-origin access for browser clients. Off by default: a gateway holding provider keys should not be
   * callable from any web page. `{ origins: ['https://app.example.com'] }` or `{ origins: '*' }`.
   */
  cors?: false | { origins: readonly string[] | '*'; credentials?: boolean; maxAgeSeconds?: number };
  /** Parent of the gateway's container, to share services with an application. */
  container?: DependencyContainer;
}

export interface ListenResult {
  url: string;
  host: string;
  port: number;
  server: Server;
}

export interface Gateway {
  readonly app: Koa;
  readonly router: Router;
  readonly container: DependencyContainer;
  readonly providers: ProviderRegistry;
  readonly logger: Logger;
  /** Resolves when every plugin's `setup` has finished. */
  readonly ready: Promise<void>;
  /** A Node request listener: `http.createServer(gateway.handle)`, or call it directly in tests. */
  readonly handle: (request: IncomingMessage, response: ServerResponse) => void;
  listen(port?: number, host?: string): Promise<ListenResult>;
  /** Stops accepting, lets in-flight requests and streams finish (up to the drain deadline), then closes plugins and providers. */
  close(): Promise<void>;
}

const requestIdPattern = /^[\w.:@-]{1,128}$/;

export function createGateway(options: GatewayOptions): Gateway {
  const plugins = options.plugins ?? [];
  checkPlugins(plugins);
  const logger = options.logger ?? createDefaultLogger();
  const providers = new ProviderRegistry(options.providers, options.aliases);
  const container = createGatewayContainer({ logger, clock: options.clock ?? systemClock, providers }, options.container);
  const bodyLimits = { maxBytes: options.bodyLimitBytes ?? 4 * 1024 * 1024, maxDepth: options.maxJsonDepth ?? 64 };
  // A header Node refuses (a plugin's value with a line break) is left out of the answer, not the answer lost.
  const reportInvalidHeader = (name: string, error: unknown) => logger.error({ err: error, header: name }, 'a response header was left out: Node refuses its name or value');
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const pipeline = new Pipeline(plugins, providers, logger);

  const trustProxy = options.trustProxy ?? false;
  const app = new Koa({ proxy: trustProxy });
  // Every error is answered by the middleware below; Koa's default logging would print them twice.
  app.silent = true;
  const router = new Router();
  const inFlight = new InFlightRequests();
  let drained: (() => void) | undefined;
  let closing = false;

  let isReady = false;
  const ready = (async () => {
    for (const plugin of plugins) {
      await plugin.setup?.({ container: container.createChildContainer(), router, logger: logger.child({ plugin: plugin.name }), providers });
    }
    isReady = true;
  })();
  // Surfaced through `ready` and on the first request; never an unhandled rejection.
  ready.catch(() => {});

  if (options.cors) {
    const { origins, credentials = false, maxAgeSeconds = 600 } = options.cors;
    app.use(
      cors({
        // An origin not on the list gets no CORS headers at all, so the browser refuses the response.
        origin: (ctx) => {
          const origin = ctx.get('origin');
          if (origins === '*') return credentials ? origin : '*';
          return origins.includes(origin) ? origin : '';
        },
        credentials,
        maxAge: maxAgeSeconds,
        allowHeaders: ['authorization', 'content-type', 'x-api-key', 'x-request-id', 'openai-organization', 'openai-project', 'cache-control', 'x-switchyard-cache-ttl', 'x-switchyard-task'],
        exposeHeaders: ['x-request-id', 'x-switchyard-provider', 'x-switchyard-model', 'x-switchyard-attempts', 'x-switchyard-cache', 'x-switchyard-cost-usd', 'retry-after', 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests', 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
        keepHeadersOnError: true,
      }),
    );
  }

  /** Errors of Koa-served routes (plugin routes, unknown routes, 405) take the same path as the core routes'. */
  app.use(async (ctx, next) => {
    try {
      if (!isReady) await ready;
      await next();
      if (ctx.status === 404 && ctx.body == null && ctx.respond !== false) {
        throw new GatewayError({
          message: `Unknown route: ${ctx.method} ${ctx.path}.`,
          status: 404,
          type: 'invalid_request_error',
          code: 'unknown_route',
        });
      }
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (gatewayError.status >= 500) logger.error({ err: error, requestId: ctx.response.get('x-request-id'), path: ctx.path }, 'request failed');
      ctx.respond = false;
      writeError(ctx.res, gatewayError);
    }
  });

  /**
   * The OpenAI routes, on Node's request and response: they are every request of a busy gateway, and Koa's
   * context, router and response handling cost about a fifth of such a request's CPU. Everything fails
   * through `writeError`, the same path as Koa's routes.
   */
  async function serveOpenAIRoute(operation: Operation, request: IncomingMessage, response: ServerResponse, modelName?: string): Promise<void> {
    // No AbortSignal unless something asks for one: see Cancellation.
    const cancellation = new Cancellation();
    const entry = inFlight.add(cancellation);
    const incoming = request.headers['x-request-id'];
    const id = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomId();
    const onClose = () => {
      if (response.writableFinished) return;
      try {
        cancellation.abort(new DOMException('The client disconnected.', 'AbortError'));
      } catch (error) {
        // A plugin's abort listener failed; the others have run, and the process must not go down for it.
        logger.error({ err: error, requestId: id }, 'an abort listener failed');
      }
    };
    // `on`, not `once`: a response closes once, and `once` wraps the listener in a bound function per request.
    response.on('close', onClose);
    const headers = new ResponseHeaders(reportInvalidHeader);
    headers.set('x-request-id', id);
    try {
      if (!isReady) await ready;
      const responder = new NodeResponder(response, headers);
      if (operation === 'chat') {
        const body = parseChatCompletionRequest(await readJsonBody(request, bodyLimits));
        await pipeline.chat(new GatewayRequestContext(id, operation, body, request, response, cancellation, headers), responder);
      } else if (operation === 'embeddings') {
        const body = parseEmbeddingRequest(await readJsonBody(request, bodyLimits));
        await pipeline.embeddings(new GatewayRequestContext(id, operation, body, request, response, cancellation, headers), responder);
      } else {
        await pipeline.models(new GatewayRequestContext(id, operation, undefined, request, response, cancellation, headers), responder, modelName);
      }
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (gatewayError.status >= 500) logger.error({ err: error, requestId: id, path: request.url }, 'request failed');
      writeError(response, gatewayError, headers);
    } finally {
      inFlight.delete(entry);
      response.removeListener('close', onClose);
      if (closing && inFlight.size === 0) drained?.();
    }
  }

  /** Per-request context; methods on a prototype rather than closures made for every request. */
  class GatewayRequestContext<Body> implements RequestContext<Body> {
    readonly clientIp: string;
    readonly startedAt = performance.now();
    readonly state = {};
    target: Target | undefined = undefined;
    readonly attempts: RequestContext['attempts'] = [];
    timeToFirstChunkMs: number | undefined = undefined;
    readonly logger = logger;
    readonly headers: IncomingMessage['headers'];
    readonly #response: ServerResponse;
    readonly #responseHeaders: ResponseHeaders;

    constructor(
      readonly id: string,
      readonly operation: Operation,
      public body: Body,
      request: IncomingMessage,
      response: ServerResponse,
      readonly cancellation: Cancellation,
      responseHeaders: ResponseHeaders,
    ) {
      this.headers = request.headers;
      this.clientIp = clientIpOf(request, trustProxy);
      this.#response = response;
      this.#responseHeaders = responseHeaders;
    }

    get signal(): AbortSignal {
      return this.cancellation.signal;
    }

    setHeader(name: string, value: string): void {
      if (!this.#response.headersSent) this.#responseHeaders.set(name.toLowerCase(), value);
    }

    resolveModel(model: string): Target {
      return providers.resolve(model);
    }
  }

  const koaRoute = (operation: Operation) => (ctx: Koa.Context) => {
    // The route answers on the raw response itself, errors included; Koa only got it here.
    ctx.respond = false;
    return serveOpenAIRoute(operation, ctx.req, ctx.res, (ctx.params as Record<string, string> | undefined)?.model);
  };

  // Clients configured with or without the `/v1` suffix on their base URL both work.
  const openAIRoutes = new Map<string, Operation>();
  for (const prefix of ['/v1', '']) {
    router.post(`${prefix}/chat/completions`, koaRoute('chat'));
    router.post(`${prefix}/embeddings`, koaRoute('embeddings'));
    router.get(`${prefix}/models`, koaRoute('models'));
    router.get(`${prefix}/models/*model`, koaRoute('models'));
    for (const suffix of ['', '/']) {
      openAIRoutes.set(`POST ${prefix}/chat/completions${suffix}`, 'chat');
      openAIRoutes.set(`POST ${prefix}/embeddings${suffix}`, 'embeddings');
      openAIRoutes.set(`GET ${prefix}/models${suffix}`, 'models');
    }
  }
  router.get('/health', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({ status: closing ? 'draining' : 'ok', providers: providers.list().map((provider) => provider.id) });
    if (closing) ctx.status = 503;
  });

  // The router matches against its live route list, so routes that plugins add in `setup` are served too.
  app.use(router.routes());
  app.use(async (ctx) => {
    const allowed = router.stack.filter((layer) => layer.match(ctx.path)).flatMap((layer) => layer.methods);
    if (allowed.length > 0) {
      ctx.set('allow', [...new Set(allowed)].join(', '));
      throw new GatewayError({ message: `Method ${ctx.method} is not allowed on ${ctx.path}.`, status: 405, type: 'invalid_request_error', code: 'method_not_allowed' });
    }
  });

  const koaHandle = app.callback();
  // With CORS on, every route goes through Koa so the CORS middleware sees it; otherwise the OpenAI routes
  // skip Koa. Both end in the same `serveOpenAIRoute`.
  const handle = options.cors
    ? koaHandle
    : (request: IncomingMessage, response: ServerResponse) => {
        const url = request.url ?? '/';
        const queryStart = url.indexOf('?');
        const operation = openAIRoutes.get(`${request.method} ${queryStart === -1 ? url : url.slice(0, queryStart)}`);
        if (operation === undefined) return koaHandle(request, response);
        serveOpenAIRoute(operation, request, response).catch((error: unknown) => {
          logger.error({ err: error }, 'request failed outside the error path');
          if (!response.destroyed) response.destroy();
        });
      };
  let server: Server | undefined;
  let closed: Promise<void> | undefined;

  return {
    app,
    router,
    container,
    providers,
    logger,
    ready,
    handle,
    async listen(port = 0, host = '127.0.0.1') {
      await ready;
      server = createServer(handle);
      // Longer than common load balancers' idle timeouts, so they close first and never hit a dead socket.
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      // Long streams are normal here; Node's default of 5 minutes for the whole request would cut them.
      server.requestTimeout = 0;
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => {
          server!.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { url: `http://${shownHost}:${address.port}`, host: address.address, port: address.port, server };
    },
    close() {
      // A second call (a signal handler and a test cleanup, say) waits for the first: onClose runs once.
      closed ??= (async () => {
        closing = true;
        const serverClosed = server
          ? new Promise<void>((resolve) => server!.close(() => resolve()))
          : Promise.resolve();
        server?.closeIdleConnections();
        if (inFlight.size > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            new Promise<void>((resolve) => (drained = resolve)),
            new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs))),
          ]);
          clearTimeout(timer);
          inFlight.abortAll(new DOMException('The gateway is shutting down.', 'AbortError'), (error) => logger.error({ err: error }, 'an abort listener failed'));
        }
        server?.closeAllConnections();
        await serverClosed;
        for (const plugin of plugins) {
          try {
            await plugin.onClose?.();
          } catch (error) {
            logger.error({ err: error, plugin: plugin.name }, 'onClose hook failed');
          }
        }
        await Promise.allSettled(providers.list().map((provider) => provider.close?.()));
      })();
      return closed;
    },
  };
}

/** The pipeline's answers on a Node response. */
class NodeResponder implements Responder {
  readonly #response: ServerResponse;
  readonly #headers: ResponseHeaders;

  constructor(response: ServerResponse, headers: ResponseHeaders) {
    this.#response = response;
    this.#headers = headers;
  }

  json(status: number, body: string | Uint8Array): void {
    writeJson(this.#response, status, body, this.#headers);
  }

  startStream(status: number, cancellation: Cancellation): SseWriter {
    const writer = new SseWriter(this.#response, cancellation, this.#headers);
    writer.start(status);
    return writer;
  }
}

/** The client's address; behind a trusted proxy, the first `x-forwarded-for` entry (as Koa's `ctx.ip`). */
function clientIpOf(request: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers['x-forwarded-for'];
    if (typeof forwarded === 'string' && forwarded !== '') {
      const first = forwarded.split(',', 1)[0]!.trim();
      if (first !== '') return first;
    }
  }
  return request.socket.remoteAddress ?? '';
}
