import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { context, defaultTextMapSetter, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Tracing } from '../tracing/context';
import { checkDestination, hostOf, parseOutboundUrl } from './destination';
import { OutboundRefusedError } from './errors';
import type { OutboundPolicy, OutboundPurpose } from './policy';

/** Default bound on a response body: enough for any JSON the server parses, far from a memory problem. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface OutboundRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** Bound on the whole exchange: DNS, connect, TLS, request, response and its body. */
  timeoutMs: number;
  /** The body is abandoned, and the call fails with too_large, past this many bytes (default 1 MiB). */
  maxBytes?: number;
  /** PEM of a CA to trust for this destination (a Kubernetes API server's). */
  ca?: string;
}

/** The answer, for the server's own parsing: never hand `body` (or text of it) to an API caller. */
export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request to a URL a user (or an operator) gave, under the outbound policy: the URL is
 * checked, the host resolved once and every answer checked, and the connection made to the
 * checked address (the name goes in the Host header and TLS SNI, and the certificate is checked
 * against it). Redirects are not followed: a 3xx is a status like any other. Any failure is an
 * OutboundRefusedError whose message is ours alone.
 */
export async function outboundRequest(
  target: string | URL,
  purpose: OutboundPurpose,
  policy: OutboundPolicy,
  options: OutboundRequestOptions,
): Promise<OutboundResponse> {
  const url = parseOutboundUrl(target, purpose, policy);
  return policy.tracing
    ? tracedRequest(policy.tracing, url, purpose, policy, options)
    : send(url, purpose, policy, options);
}

/**
 * The request inside a client span (child of the work that makes it, a deployment step say), its
 * `traceparent` and `tracestate` sent along so the destination continues the trace. The span
 * names the destination by scheme, host and path: a query string may hold a token.
 */
async function tracedRequest(
  { tracer, propagator }: Tracing,
  url: URL,
  purpose: OutboundPurpose,
  policy: OutboundPolicy,
  options: OutboundRequestOptions,
): Promise<OutboundResponse> {
  const method = options.method ?? 'GET';
  const parent = context.active();
  const span = tracer.startSpan(
    method,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        'server.address': hostOf(url),
        'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        'url.full': `${url.protocol}//${url.host}${url.pathname}`,
        'outbound.purpose': purpose,
      },
    },
    parent,
  );
  const headers: Record<string, string> = { ...options.headers };
  propagator.inject(trace.setSpan(parent, span), headers, defaultTextMapSetter);
  try {
    const response = await send(url, purpose, policy, { ...options, headers });
    span.setAttribute('http.response.status_code', response.status);
    if (response.status >= 400) {
      span.setAttribute('error.type', String(response.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return response;
  } catch (error) {
    span.setAttribute('error.type', error instanceof OutboundRefusedError ? error.code : 'error');
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}

async function send(
  url: URL,
  purpose: OutboundPurpose,
  policy: OutboundPolicy,
  options: OutboundRequestOptions,
): Promise<OutboundResponse> {
  const { timeoutMs, maxBytes = DEFAULT_MAX_RESPONSE_BYTES } = options;
  const started = Date.now();
  const address = await checkDestination(hostOf(url), purpose, policy, { timeoutMs });
  const remaining = Math.max(1, timeoutMs - (Date.now() - started));
  const secure = url.protocol === 'https:';
  const name = hostOf(url);
  const body = options.body;
  return new Promise<OutboundResponse>((resolve, reject) => {
    let failure: OutboundRefusedError | null = null;
    let settled = false;
    const settle = (outcome: OutboundResponse | OutboundRefusedError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome instanceof OutboundRefusedError) reject(outcome);
      else resolve(outcome);
    };
    const fail = (error: OutboundRefusedError) => {
      failure ??= error;
      req.destroy(error);
    };
    const timer = setTimeout(
      () => fail(new OutboundRefusedError('timeout', `no answer within ${timeoutMs} ms`)),
      remaining,
    );
    const req = (secure ? https : http).request(
      {
        host: address,
        port: url.port || (secure ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: options.method ?? 'GET',
        headers: {
          ...options.headers,
          host: url.host,
          ...(body !== undefined && { 'content-length': String(Buffer.byteLength(body)) }),
        },
        servername: secure && isIP(name) === 0 ? name : undefined,
        ...(secure && options.ca !== undefined && { ca: options.ca }),
        // A pooled socket could be one opened to another address; every request connects afresh.
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const tooLarge = () =>
          fail(new OutboundRefusedError('too_large', `the answer is larger than ${maxBytes} bytes`, status));
        if (Number(res.headers['content-length'] ?? 0) > maxBytes) return tooLarge();
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) tooLarge();
          else chunks.push(chunk);
        });
        res.on('error', () => undefined);
        res.on('close', () => {
          if (failure) settle(failure);
          else if (!res.complete)
            settle(new OutboundRefusedError('connection_failed', 'the answer was cut short'));
          else settle({ status, headers: res.headers, body: Buffer.concat(chunks) });
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      settle(failure ?? new OutboundRefusedError('connection_failed', connectionReason(error))),
    );
    req.end(body);
  });
}

/** Our wording for a socket error, chosen by its code: the message itself may quote the peer. */
function connectionReason(error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'the connection was closed before an answer';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'the address is unreachable';
  if (code.startsWith('HPE_')) return 'the answer was not valid HTTP';
  if (
    /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code) ||
    /SSL|TLS/.test(code)
  ) {
    return 'the TLS handshake failed or the certificate was not accepted';
  }
  return 'the connection failed';
}
