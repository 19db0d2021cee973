import { type ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';

/**
 * The headers of one answer, kept until its head is written and then written in one `writeHead`. Node's
 * `setHeader` validates each header, lowercases its name and files it in a dictionary of the response's
 * own, which the head then walks again: about a microsecond a header, and an answer has six to ten
 * (request id, served provider and model, attempts, cache, cost, rate limits, content headers). A flat
 * list written at once is validated once, by `writeHead`, and nothing else.
 *
 * Names are lowercase (the gateway's own are; `RequestContext.setHeader` lowercases a plugin's), so a
 * header set twice is found by comparing names as they are. Headers set on the response by other means
 * (Koa's CORS middleware) stay: `writeHead` merges the list into them.
 */
export class ResponseHeaders {
  readonly #list: string[] = [];
  readonly #onInvalid: ((name: string, error: unknown) => void) | undefined;

  /** `onInvalid` hears of each header left out because Node refuses it; without it, such a header fails the write. */
  constructor(onInvalid?: (name: string, error: unknown) => void) {
    this.#onInvalid = onInvalid;
  }

  /** Sets a header, replacing one of the same name. `name` must be lowercase. */
  set(name: string, value: string): void {
    const list = this.#list;
    for (let index = 0; index < list.length; index += 2) {
      if (list[index] === name) {
        list[index + 1] = value;
        return;
      }
    }
    list.push(name, value);
  }

  /**
   * Writes the status and the headers. A header Node refuses (a plugin's value with a line break, say) is
   * left out and reported through `onInvalid`, rather than costing the client its answer.
   */
  writeHead(response: ServerResponse, status: number): void {
    try {
      response.writeHead(status, this.#list);
    } catch (error) {
      const onInvalid = this.#onInvalid;
      if (!onInvalid) throw error;
      const valid: string[] = [];
      const list = this.#list;
      for (let index = 0; index < list.length; index += 2) {
        const name = list[index]!;
        const value = list[index + 1]!;
        try {
          validateHeaderName(name);
          validateHeaderValue(name, value);
          valid.push(name, value);
        } catch (invalid) {
          onInvalid(name, invalid);
        }
      }
      if (valid.length === list.length) throw error;
      response.writeHead(status, valid);
    }
  }
}
