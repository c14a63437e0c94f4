import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { resolveWebhookAddress, type WebhookUrlPolicy } from './webhook-url';

export interface WebhookRequest {
  url: URL;
  body: string;
  headers: Record<string, string>;
  /** Bound on the whole exchange: DNS, connect, TLS, request and response. */
  timeoutMs: number;
  policy: WebhookUrlPolicy;
}

/**
 * POSTs a body and resolves with the response status (the response body is read and discarded).
 * Connects to the address `resolveWebhookAddress` checked, with the URL's host name for the Host
 * header, TLS SNI and certificate check. Rejects on network failure or timeout.
 */
export async function postWebhook(request: WebhookRequest): Promise<number> {
  const { url, body, headers, timeoutMs, policy } = request;
  const started = Date.now();
  const address = await resolveWebhookAddress(url, policy, timeoutMs);
  const remaining = Math.max(1, timeoutMs - (Date.now() - started));
  const secure = url.protocol === 'https:';
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const signal = AbortSignal.timeout(remaining);
  return new Promise<number>((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        host: address,
        port: url.port || (secure ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: {
          ...headers,
          host: url.host,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
        },
        // The certificate is checked against the name, not the address we connect to.
        servername: isIP(hostname) === 0 ? hostname : undefined,
        signal,
        agent: false,
      },
      (res) => {
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.resume();
      },
    );
    req.on('error', (error) =>
      reject(signal.aborted ? new Error(`no answer within ${timeoutMs} ms`) : error),
    );
    req.end(body);
  });
}
