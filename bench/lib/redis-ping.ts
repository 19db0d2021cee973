import { connect } from 'node:net';

/**
 * Whether a Redis server answers a raw PING at `redisUrl`: an unreachable Redis is reported as such instead
 * of being measured as a store's fail-open path. Password-protected servers answer NOAUTH, which counts as
 * reachable (the stores authenticate from the URL).
 */
export function redisAnswersPing(redisUrl: string, timeoutMs = 1_000): Promise<boolean> {
  const url = new URL(redisUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    let answer = '';
    const finish = (reachable: boolean) => {
      socket.destroy();
      resolve(reachable);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      answer += data.toString('latin1');
      if (answer.includes('\r\n')) finish(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH'));
    });
  });
}
