/**
 * The Kubernetes API as the actions use it: one client per API group and one way to make a call.
 *
 * API errors: 409 (conflict) is retried after re-reading; 429/5xx retried with a short backoff;
 * 404 becomes "... no longer exists (...)" (the engine then does not try to undo); 403 is reported
 * with the API server's reason.
 */
import {
  AppsV1Api,
  CoreV1Api,
  NetworkingV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';

export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly reason: string | undefined,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface ApiErrorInfo {
  code?: number;
  reason?: string;
  message: string;
}

export function apiError(err: unknown): ApiErrorInfo {
  const e = err as { code?: number; statusCode?: number; body?: unknown; message?: string };
  let body: Record<string, unknown> | undefined;
  if (typeof e?.body === 'string') {
    try {
      body = JSON.parse(e.body) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
  } else if (e?.body && typeof e.body === 'object') body = e.body as Record<string, unknown>;
  const code = typeof e?.code === 'number' ? e.code : e?.statusCode;
  return {
    code,
    reason: typeof body?.reason === 'string' ? body.reason : undefined,
    message: typeof body?.message === 'string' ? body.message : (e?.message ?? String(err)),
  };
}

/** Whether `err` is the API's 404 for the object a call named. */
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.code === 404;
/** Whether `err` is the API's refusal to create an object that is already there. */
export const isAlreadyThere = (err: unknown): boolean =>
  err instanceof KubeApiError && err.reason === 'AlreadyExists';

export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Strip server-owned fields so an object can be created again. */
export function recreatable<T extends { metadata?: Record<string, any> }>(o: T): T {
  const c = JSON.parse(JSON.stringify(o)) as T & { status?: unknown };
  if (c.metadata) {
    for (const k of [
      'uid',
      'resourceVersion',
      'creationTimestamp',
      'generation',
      'managedFields',
      'selfLink',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
    ])
      delete c.metadata[k];
  }
  delete c.status;
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly net: NetworkingV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  /** Every API error met, with its reason: visible in records and tests. */
  readonly errors: ApiErrorInfo[] = [];

  constructor(
    kc: KubeConfig,
    private readonly retries: number,
    private readonly retryDelayMs: number,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.net = kc.makeApiClient(NetworkingV1Api);
    this.rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  }

  /** Keep the error of a best-effort read that the caller goes on without. */
  remember(err: unknown): void {
    this.errors.push(apiError(err));
  }

  /**
   * Run one API call: 409/429/5xx retried (with `onConflict` re-reading first), 404 and 403 turned
   * into errors that say what vanished or what was refused, with the API server's message.
   */
  async call<T>(what: string, fn: () => Promise<T>, onConflict?: () => Promise<void>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const info = apiError(err);
        this.errors.push(info);
        const retriable =
          info.code === 409 || info.code === 429 || (info.code !== undefined && info.code >= 500);
        if (retriable && info.reason !== 'AlreadyExists' && attempt < this.retries) {
          if (info.code === 409 && onConflict) await onConflict();
          await sleep(this.retryDelayMs * 2 ** attempt);
          continue;
        }
        if (info.code === 404)
          throw new KubeApiError(
            `${what}: no longer exists (404 ${info.reason ?? 'NotFound'}: ${info.message})`,
            404,
            info.reason,
          );
        if (info.code === 403)
          throw new KubeApiError(`${what}: forbidden (403: ${info.message})`, 403, info.reason);
        throw new KubeApiError(
          `${what}: ${info.code ?? 'error'} ${info.reason ?? ''} ${info.message}`.replace(/\s+/g, ' '),
          info.code,
          info.reason,
        );
      }
    }
  }
}
