import type { Context as HonoContext, Next } from "hono";
import { type AnyTRPCRouter, TRPCError, getTRPCErrorFromUnknown, getTRPCErrorShape, isTrackedEnvelope } from "@trpc/server";
import { getLastEventId, getRequestInfo, isAbortError, isAsyncIterable, sseHeaders } from "@trpc/server/unstable-core-do-not-import";

/*
 * tRPC subscriptions over server-sent events, written to the socket here rather than by tRPC's
 * fetch adapter. tRPC resolves everything else as it does for any call: the request (input,
 * `lastEventId`, connection params) by its own parser, the procedure with its middlewares and
 * input validation, errors by its formatter. Only the framing is ours, in the exact bytes tRPC's
 * `sseStreamProducer` writes (tests/api/sse.test.ts compares the two), so tRPC's clients
 * (`httpSubscriptionLink`) cannot tell. Why: tRPC's producer wraps each event in four
 * async generators, a ping timer race, a TransformStream and a TextEncoderStream; on Bun that was
 * three quarters of a delivery's CPU (docs/benchmarks.md, "Live subscribers: SSE framing").
 * Here an event is one string written to Bun's direct stream, and pings come from one timer per
 * subscription path that looks at when each open stream last wrote.
 */

/** One SSE message as tRPC's producer writes it: event, data and id lines, then a blank line (and one more). */
function frame(data: string, event?: string, id?: string) {
  return `${event === undefined ? "" : `event: ${event}\n`}data: ${data}\n${id === undefined ? "" : `id: ${id}\n`}\n\n`;
}

/**
 * The messages of one stream, in tRPC v11's protocol: `connected` first (the client's options),
 * each value as data (a `tracked` one with its id), `ping`, `return` when the procedure's
 * iterable ends, `serialized-error` when it fails. A value without an id after one with an id
 * is followed by `restore-id`, so that the browser's EventSource keeps the last id to resume from.
 */
export function sseEncoder(serialize: (value: unknown) => unknown, lastEventId: string | null) {
  let last = lastEventId && !/[\0\n\r]/.test(lastEventId) ? lastEventId : null;
  return {
    connected: (client: object) => frame(JSON.stringify(client), "connected"),
    ping: frame("", "ping"),
    end: frame("", "return"),
    error: (shape: unknown) => frame(JSON.stringify(serialize(shape)), "serialized-error"),
    value(value: unknown) {
      if (isTrackedEnvelope(value)) {
        last = value[0];
        return frame(JSON.stringify(serialize(value[1])), undefined, value[0]);
      }
      const data = JSON.stringify(serialize(value));
      return last === null ? frame(data) : frame(data, undefined, "") + frame("", "restore-id", last);
    },
  };
}

export type SseEncoder = ReturnType<typeof sseEncoder>;

/**
 * Writes a subscription's whole stream: `connected`, then each value of `iterable` (or the error
 * that refused it), then `return`, or `serialized-error` should the iterable fail; nothing more
 * once `signal` aborts (the client is gone). Resolves when the stream is over.
 */
export async function pump(opts: {
  source: { iterable: AsyncIterable<unknown> } | { refused: TRPCError };
  encoder: SseEncoder;
  client: object;
  write: (text: string) => void | Promise<void>;
  /** The error's shape, as tRPC's error formatter makes it (and where it is reported). */
  formatError: (error: TRPCError) => unknown;
  signal: AbortSignal;
}) {
  const { encoder, write, signal } = opts;
  await write(encoder.connected(opts.client));
  if ("refused" in opts.source) return write(encoder.error(opts.formatError(opts.source.refused)));
  try {
    for await (const value of opts.source.iterable) {
      if (signal.aborted) return;
      await write(encoder.value(value));
    }
    if (!signal.aborted) await write(encoder.end);
  } catch (cause) {
    if (isAbortError(cause) || signal.aborted) return;
    await write(encoder.error(opts.formatError(getTRPCErrorFromUnknown(cause))));
  }
}

/**
 * A Hono handler serving the router's subscription at `path` over SSE; anything it does not
 * serve as tRPC would (a HEAD, a batch, a request tRPC's parser refuses) goes on to `next`, tRPC's
 * own handler. `createContext` and `onError` are the ones tRPC's handler is given.
 */
export function serveSubscription<TContext extends object>(
  router: AnyTRPCRouter,
  path: string,
  opts: {
    createContext: (c: HonoContext, connectionParams: Record<string, string | undefined> | null) => TContext;
    onError: (opts: { error: TRPCError; path: string }) => void;
    /**
     * How long a write may wait for the client to read: past it, the connection is dropped and the
     * procedure's resources go with it (a reader that stopped reading would otherwise hold its
     * socket's buffers, and its place among the user's streams, for as long as it stays connected).
     */
    stallMs?: number;
  },
) {
  const config = router._def._config;
  const serialize = (value: unknown) => config.transformer.output.serialize(value);
  const client: object = config.sse?.client ?? {};
  const ping = config.sse?.ping?.enabled ? (config.sse.ping.intervalMs ?? 1_000) : undefined;
  const pings = ping === undefined ? undefined : quietStreams(ping);

  return async function subscription(c: HonoContext, next: Next) {
    const req = c.req.raw;
    const url = new URL(req.url);
    // Hono hands HEAD to GET handlers too: a HEAD opens no stream (tRPC answers it, 204 and no body).
    if (req.method !== "GET" || url.searchParams.has("batch")) return next();
    let info: Awaited<ReturnType<typeof getRequestInfo>>;
    try {
      info = await getRequestInfo({ req, path, router, searchParams: url.searchParams, headers: req.headers, url, maxBatchSize: 1 });
    } catch {
      return next();
    }
    const call = info.calls[0];
    if (info.type !== "subscription" || !call?.procedure) return next();

    // The call ends when the client goes away (Bun aborts the request's signal) or the body is cancelled.
    const abort = new AbortController();
    const gone = () => abort.abort();
    req.signal.addEventListener("abort", gone, { once: true });
    let ctx: TContext | undefined;
    const formatError = (error: TRPCError) => {
      opts.onError({ error, path });
      return getTRPCErrorShape({ config, ctx, error, input: call.result(), path, type: "subscription" });
    };
    let source: { iterable: AsyncIterable<unknown> } | { refused: TRPCError };
    try {
      ctx = opts.createContext(c, info.connectionParams);
      const data = await call.procedure({ path, getRawInput: call.getRawInput, ctx, type: "subscription", signal: abort.signal, batchIndex: 0 });
      source = isAsyncIterable(data)
        ? { iterable: data }
        : { refused: new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `Subscription ${path} did not return an AsyncGenerator` }) };
    } catch (cause) {
      source = { refused: getTRPCErrorFromUnknown(cause) };
    }
    const encoder = sseEncoder(serialize, getLastEventId({ headers: req.headers, searchParams: url.searchParams }));

    const body = new ReadableStream({
      type: "direct",
      async pull(controller: ReadableStreamDirectController) {
        const stream: QuietStream = {
          wroteAt: Date.now(),
          writing: false,
          ping: () => void write(encoder.ping).catch(gone),
        };
        let stalled: Error | undefined;
        const drained = async (pending: Promise<number>) => {
          if (opts.stallMs === undefined) return void (await pending);
          let timer: ReturnType<typeof setTimeout> | undefined;
          const late = new Promise<"late">((resolve) => (timer = setTimeout(resolve, opts.stallMs, "late")));
          const outcome = await Promise.race([pending, late]).finally(() => clearTimeout(timer));
          if (outcome !== "late") return;
          stalled = new Error(`${path}: the client read nothing for ${opts.stallMs! / 1000} s; its stream is closed`);
          gone(); // ends the stream quietly: nothing more is written to it
          throw stalled;
        };
        const write = async (text: string) => {
          if (abort.signal.aborted) return;
          stream.wroteAt = Date.now();
          stream.writing = true;
          try {
            const written = controller.write(text);
            const flushed = controller.flush();
            // A promise is the socket's backpressure: the next event waits for it, for up to stallMs.
            if (written instanceof Promise) await drained(written);
            if (flushed instanceof Promise) await drained(flushed);
          } finally {
            stream.writing = false;
          }
        };
        pings?.add(stream);
        try {
          await pump({ source, encoder, client, write, formatError, signal: abort.signal });
        } catch {
          // the socket is gone, or stalled: nothing more can be written
        } finally {
          pings?.delete(stream);
          req.signal.removeEventListener("abort", gone);
          abort.abort(); // the procedure's own resources (a live subscription) are released on its signal
          // Closing with an error drops the connection; a plain close would wait for the stalled client to read what is buffered.
          controller.close(stalled);
        }
      },
      cancel: gone,
    } as Bun.DirectUnderlyingSource);
    const headers = new Headers([["vary", "trpc-accept, accept"], ...Object.entries(sseHeaders)]);
    return new Response(body as unknown as ReadableStream, { status: 200, headers });
  };
}

type QuietStream = { wroteAt: number; writing: boolean; ping: () => void };

/**
 * The open streams of one subscription path, pinged when quiet: one timer for them all, ticking
 * while any is open. A stream hears something at least every `pingMs`, as from tRPC's producer,
 * and a quiet one is pinged about that often (after `pingMs` less a tick of silence).
 */
export function quietStreams(pingMs: number) {
  const tickMs = Math.min(1_000, pingMs / 3);
  const streams = new Set<QuietStream>();
  let ticker: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    const now = Date.now();
    for (const s of streams) if (!s.writing && now - s.wroteAt >= pingMs - tickMs) s.ping();
  };
  return {
    add(stream: QuietStream) {
      streams.add(stream);
      ticker ??= setInterval(tick, tickMs);
    },
    delete(stream: QuietStream) {
      streams.delete(stream);
      if (streams.size > 0) return;
      clearInterval(ticker);
      ticker = undefined;
    },
  };
}
