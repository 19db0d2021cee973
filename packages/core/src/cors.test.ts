import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from './gateway.js';
import { silentLogger } from './logger.js';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function start(cors: GatewayOptions['cors']): Promise<string> {
  gateway = createGateway({ providers: [], cors, logger: silentLogger });
  return (await gateway.listen(0)).url;
}

const preflight = (url: string, origin: string) =>
  fetch(`${url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });

describe('CORS', () => {
  it('is off by default: no CORS headers, and preflights are not answered', async () => {
    const url = await start(undefined);
    const response = await preflight(url, 'https://evil.example');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.status).toBeGreaterThanOrEqual(400);
    const health = await fetch(`${url}/health`, { headers: { origin: 'https://evil.example' } });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers listed origins only, on preflights, answers and errors', async () => {
    const url = await start({ origins: ['https://app.example'] });
    const allowed = await preflight(url, 'https://app.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    expect((await preflight(url, 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    const error = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { origin: 'https://app.example' }, body: '{' });
    expect(error.status).toBe(400);
    expect(error.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(error.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('can allow any origin', async () => {
    const url = await start({ origins: '*' });
    expect((await preflight(url, 'https://anywhere.example')).headers.get('access-control-allow-origin')).toBe('*');
  });
});
