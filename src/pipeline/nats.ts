/**
 * NATS JetStream transport for the `Bus` interface, used when agents (one per node: sources and
 * local detectors) and the brain (correlation, store, response) run apart (docs/architecture.md, "One engine").
 *
 * - Each topic is a subject `<prefix>.<topic>` in one stream; messages are JSON with bigints as
 *   decimal strings, and carry a message id (Nats-Msg-Id) so JetStream drops republished duplicates.
 * - Publishing is non-blocking like the in-process bus: messages go through a bounded outbound queue
 *   drained by one loop that waits for each PubAck; a full queue drops (counted, reported).
 * - Each subscriber is a durable pull consumer, acked after its handler returns, so delivery is at
 *   least once across restarts; handlers must be idempotent (alerts and actions carry ids).
 * - A message that is larger than `maxMessageBytes` or is not JSON never reaches a handler: it is
 *   counted, reported through `onMalformed` and terminated (never redelivered).
 * - The connection authenticates with a token, a user and password, or a credentials file (user JWT
 *   and nkey seed), and speaks TLS when a CA or a client certificate is given (`NatsAuth`).
 */
import {
  AckPolicy,
  connect,
  credsAuthenticator,
  DeliverPolicy,
  JSONCodec,
  type ConnectionOptions,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import { BoundedQueue } from './queue.js';
import type { Bus, BusStats, DropNotice, Handler, SubscribeOptions } from './bus.js';

/**
 * How Vigie proves itself to the NATS server, and checks the server. At most one of `token`,
 * `user`/`password` and `creds`; `tls` alone or with any of them.
 */
export interface NatsAuth {
  token?: string;
  user?: string;
  password?: string;
  /** Contents of a NATS credentials file: a user JWT and the nkey seed that signs the server's nonce. */
  creds?: Uint8Array;
  /**
   * TLS to the server (required once given): `ca` (PEM) verifies the server's certificate instead
   * of the system's roots; `cert` and `key` (PEM, together) are Vigie's client certificate.
   */
  tls?: { ca?: string; cert?: string; key?: string };
}

/** Connection options for `auth`; throws on a contradictory combination. */
export function natsAuthOptions(auth: NatsAuth | undefined): Partial<ConnectionOptions> {
  if (!auth) return {};
  const ways = [
    auth.token !== undefined,
    auth.user !== undefined || auth.password !== undefined,
    auth.creds !== undefined,
  ].filter(Boolean).length;
  if (ways > 1) throw new Error('NATS: give one of a token, a user and password, or a credentials file');
  if ((auth.user === undefined) !== (auth.password === undefined))
    throw new Error('NATS: a user needs a password, and a password a user');
  if (auth.token === '') throw new Error('NATS: empty token');
  const o: Partial<ConnectionOptions> = {};
  if (auth.token !== undefined) o.token = auth.token;
  if (auth.user !== undefined) {
    o.user = auth.user;
    o.pass = auth.password;
  }
  if (auth.creds !== undefined) o.authenticator = credsAuthenticator(auth.creds);
  if (auth.tls) {
    const { ca, cert, key } = auth.tls;
    if ((cert === undefined) !== (key === undefined))
      throw new Error('NATS: a client certificate needs its key, and a key its certificate');
    o.tls = { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert, key } : {}) };
  }
  return o;
}

export interface NatsBusOptions {
  servers: string | string[];
  /** Credentials and TLS; none by default. */
  auth?: NatsAuth;
  /** How long the first connection may take, in ms (default 20 s). */
  connectTimeoutMs?: number;
  /** Stream and subject prefix. */
  stream?: string;
  /** Outbound queue capacity. */
  capacity?: number;
  /** Retention of the stream, in seconds (default one day). */
  maxAgeSeconds?: number;
  onDrop?: (n: DropNotice) => void;
  onHandlerError?: (topic: string, err: unknown) => void;
  /** Largest message handed to a subscriber, in bytes (default 1 MiB, NATS's default max_payload). */
  maxMessageBytes?: number;
  /** A received message that was too large or not JSON: skipped, never redelivered. */
  onMalformed?: (topic: string, reason: 'size' | 'json', detail: string) => void;
  /** Message id for de-duplication; defaults to msg.uuid ?? msg.id when present. */
  idOf?: (topic: string, msg: unknown) => string | undefined;
}

interface Outgoing {
  subject: string;
  data: Uint8Array;
  id?: string;
}

const codec = JSONCodec<unknown>();

class Malformed extends Error {
  constructor(
    readonly reason: 'size' | 'json',
    message: string,
  ) {
    super(message);
  }
}

function encode(msg: unknown): Uint8Array {
  // JSONCodec cannot encode bigint; VigieEvent.ts is a bigint.
  return new TextEncoder().encode(JSON.stringify(msg, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

export class NatsBus implements Bus {
  private out: BoundedQueue<Outgoing>;
  private pump: Promise<void>;
  private consumers: {
    topic: string;
    name: string;
    messages?: ConsumerMessages;
    done: Promise<void>;
    /** Why the consume loop ended (set when it did). */
    ended?: string;
  }[] = [];
  private published: Record<string, number> = {};
  private handlerErrors = 0;
  private malformed = 0;
  private publishErrors = 0;
  private closed = false;
  private readonly stream: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly opts: NatsBusOptions,
  ) {
    this.stream = opts.stream ?? 'VIGIE';
    this.out = new BoundedQueue<Outgoing>(
      'nats:out',
      opts.capacity ?? 50_000,
      'drop-newest',
      (queue, dropped) => opts.onDrop?.({ queue, topic: '*', dropped }),
    );
    this.pump = this.drain();
  }

  static async connect(opts: NatsBusOptions): Promise<NatsBus> {
    const nc = await connect({
      servers: opts.servers,
      name: 'vigie',
      maxReconnectAttempts: -1,
      ...(opts.connectTimeoutMs !== undefined ? { timeout: opts.connectTimeoutMs } : {}),
      ...natsAuthOptions(opts.auth),
    });
    const jsm = await nc.jetstreamManager();
    const stream = opts.stream ?? 'VIGIE';
    const subjects = [`${stream.toLowerCase()}.>`];
    try {
      await jsm.streams.info(stream);
    } catch {
      await jsm.streams.add({
        name: stream,
        subjects,
        max_age: (opts.maxAgeSeconds ?? 86_400) * 1e9,
        duplicate_window: 120 * 1e9,
      });
    }
    return new NatsBus(nc, nc.jetstream(), jsm, opts);
  }

  private subject(topic: string): string {
    return `${this.stream.toLowerCase()}.${topic}`;
  }

  publish<T>(topic: string, msg: T): boolean {
    if (this.closed) return false;
    this.published[topic] = (this.published[topic] ?? 0) + 1;
    const m = msg as { uuid?: string; id?: string };
    const id = this.opts.idOf ? this.opts.idOf(topic, msg) : (m?.uuid ?? m?.id);
    return this.out.offer({
      subject: this.subject(topic),
      data: encode(msg),
      id: id ? `${topic}:${id}` : undefined,
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const o = await this.out.take();
      if (!o) return;
      try {
        await this.js.publish(o.subject, o.data, o.id ? { msgID: o.id } : undefined);
      } catch (err) {
        this.publishErrors++;
        this.opts.onHandlerError?.(o.subject, err);
      }
    }
  }

  subscribe<T>(topic: string, handler: Handler<T>, opts: SubscribeOptions): () => void {
    const durable = `${opts.name}-${topic}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const entry: (typeof this.consumers)[number] = { topic, name: durable, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        await this.jsm.consumers.info(this.stream, durable);
      } catch {
        await this.jsm.consumers.add(this.stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: this.subject(topic),
          max_ack_pending: opts.capacity ?? 10_000,
        });
      }
      const consumer = await this.js.consumers.get(this.stream, durable);
      const messages = await consumer.consume({ max_messages: Math.min(opts.capacity ?? 1000, 1000) });
      entry.messages = messages;
      const maxBytes = this.opts.maxMessageBytes ?? 1 << 20;
      for await (const m of messages) {
        let msg: unknown;
        try {
          if (m.data.length > maxBytes)
            throw new Malformed('size', `${m.data.length} bytes, over ${maxBytes}`);
          try {
            msg = codec.decode(m.data);
          } catch (e) {
            throw new Malformed('json', (e as Error).message);
          }
        } catch (e) {
          // Nothing a redelivery could fix: counted, reported, and terminated.
          const bad = e as Malformed;
          this.malformed++;
          this.opts.onMalformed?.(topic, bad.reason, bad.message);
          m.term();
          continue;
        }
        try {
          const r = handler(msg as T);
          if (r && typeof (r as Promise<void>).then === 'function') await r;
          m.ack();
        } catch (err) {
          this.handlerErrors++;
          this.opts.onHandlerError?.(topic, err);
          // Redeliver later rather than lose it; JetStream bounds redeliveries by ack_wait/max_deliver.
          m.nak(1000);
        }
      }
    })();
    entry.done.then(
      () => (entry.ended = 'stopped'),
      (e: unknown) => (entry.ended = (e as Error).message),
    );
    this.consumers.push(entry);
    return () => {
      void entry.messages?.close();
    };
  }

  stats(): BusStats {
    return {
      published: { ...this.published },
      queues: [this.out.stats()],
      handlerErrors: this.handlerErrors + this.publishErrors,
    };
  }

  /**
   * Reasons this bus cannot carry messages now; empty when it can: the server answers a round trip
   * within `timeoutMs`, and every subscription's durable consumer exists on the server with this
   * process consuming from it (attached, its loop still running).
   */
  async readiness(timeoutMs = 2000): Promise<string[]> {
    if (this.closed || this.nc.isClosed()) return ['NATS connection closed'];
    const within = <T>(p: Promise<T>, what: string): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      return Promise.race([p, late]).finally(() => clearTimeout(timer));
    };
    try {
      await within(this.nc.flush(), 'NATS server');
    } catch (e) {
      return [(e as Error).message];
    }
    const reasons: string[] = [];
    for (const c of this.consumers) {
      if (c.ended !== undefined) reasons.push(`NATS consumer ${c.name} ended: ${c.ended}`);
      else if (!c.messages) reasons.push(`NATS consumer ${c.name} not attached yet`);
      else
        try {
          await within(this.jsm.consumers.info(this.stream, c.name), `NATS consumer ${c.name}`);
        } catch (e) {
          reasons.push(`NATS consumer ${c.name} missing on the server: ${(e as Error).message}`);
        }
    }
    return reasons;
  }

  /** Received messages skipped before any handler: too large, or not JSON. */
  malformedCount(): number {
    return this.malformed;
  }

  /** Publish what is queued, stop consumers, close the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.out.close();
    await this.pump;
    for (const c of this.consumers) await c.messages?.close();
    await Promise.allSettled(this.consumers.map((c) => c.done));
    await this.nc.drain();
  }
}
