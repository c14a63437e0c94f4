import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
// The client knows the server only by type: this import vanishes from any bundle.
import type { AppRouter } from '../server/routers';

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export interface ClientOptions {
  /** Base URL of the platform, e.g. `https://api.example.com` (the tRPC path is added). */
  url: string;
  /** Headers sent with every call, or a function computing them per call (for rotating tokens). */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** Most calls in one batched HTTP request; keep at or below the server's TRPC_MAX_BATCH_SIZE. */
  maxBatchSize?: number;
  /** Custom fetch (tests, instrumentation). */
  fetch?: typeof fetch;
}

/** A typed client of the platform's tRPC API. */
export function createClient(options: ClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${base}/api/trpc`,
        maxItems: options.maxBatchSize ?? 20,
        // Keeps batched GET URLs under common proxy limits (8 KiB).
        maxURLLength: 4_000,
        headers: async () =>
          typeof options.headers === 'function' ? options.headers() : (options.headers ?? {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  });
}

export type PlatformClient = ReturnType<typeof createClient>;

/** The platform's error details, when `error` came from the server. */
export function errorDetails(
  error: unknown,
): { code: string; message: string; requestId: string | null } | null {
  if (!(error instanceof TRPCClientError)) return null;
  const data = error.data as { code?: string; requestId?: string | null } | undefined;
  return { code: data?.code ?? 'UNKNOWN', message: error.message, requestId: data?.requestId ?? null };
}

export { TRPCClientError };
