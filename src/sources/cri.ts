/**
 * A client of the container runtime's CRI API (`runtime.v1.RuntimeService`, the protocol the kubelet
 * speaks to containerd and CRI-O) over its Unix socket, with @grpc/grpc-js. Vigie reads only: the
 * runtime's version, and its containers with their labels, which the kubelet sets on every container
 * it creates (`io.kubernetes.pod.namespace`, `io.kubernetes.pod.name`, `io.kubernetes.pod.uid`,
 * `io.kubernetes.container.name`). So a container is mapped to its pod on a node without a Docker
 * daemon and before (or without) the Kubernetes watch.
 *
 * The protocol definitions below are the subset of runtime.v1 (k8s.io/cri-api v0.31, `api.proto`)
 * these calls use, in protobufjs' JSON form so that they ship inside the build; the field numbers are
 * the API's, and the fields left out are skipped on decoding as protobuf does with unknown fields.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const labels = (id: number) => ({ keyType: 'string', type: 'string', id });

/** runtime.v1 messages and methods Vigie uses (field numbers as in the CRI API). */
export const CRI_RUNTIME_V1 = {
  nested: {
    runtime: {
      nested: {
        v1: {
          nested: {
            RuntimeService: {
              methods: {
                Version: { requestType: 'VersionRequest', responseType: 'VersionResponse' },
                ListContainers: {
                  requestType: 'ListContainersRequest',
                  responseType: 'ListContainersResponse',
                },
                ContainerStatus: {
                  requestType: 'ContainerStatusRequest',
                  responseType: 'ContainerStatusResponse',
                },
              },
            },
            VersionRequest: { fields: { version: { type: 'string', id: 1 } } },
            VersionResponse: {
              fields: {
                version: { type: 'string', id: 1 },
                runtime_name: { type: 'string', id: 2 },
                runtime_version: { type: 'string', id: 3 },
                runtime_api_version: { type: 'string', id: 4 },
              },
            },
            ContainerState: {
              values: {
                CONTAINER_CREATED: 0,
                CONTAINER_RUNNING: 1,
                CONTAINER_EXITED: 2,
                CONTAINER_UNKNOWN: 3,
              },
            },
            ContainerStateValue: { fields: { state: { type: 'ContainerState', id: 1 } } },
            ContainerFilter: {
              fields: {
                id: { type: 'string', id: 1 },
                state: { type: 'ContainerStateValue', id: 2 },
                pod_sandbox_id: { type: 'string', id: 3 },
                label_selector: labels(4),
              },
            },
            ListContainersRequest: { fields: { filter: { type: 'ContainerFilter', id: 1 } } },
            ContainerMetadata: {
              fields: { name: { type: 'string', id: 1 }, attempt: { type: 'uint32', id: 2 } },
            },
            ImageSpec: { fields: { image: { type: 'string', id: 1 }, annotations: labels(2) } },
            Container: {
              fields: {
                id: { type: 'string', id: 1 },
                pod_sandbox_id: { type: 'string', id: 2 },
                metadata: { type: 'ContainerMetadata', id: 3 },
                image: { type: 'ImageSpec', id: 4 },
                image_ref: { type: 'string', id: 5 },
                state: { type: 'ContainerState', id: 6 },
                created_at: { type: 'int64', id: 7 },
                labels: labels(8),
                annotations: labels(9),
              },
            },
            ListContainersResponse: {
              fields: { containers: { rule: 'repeated', type: 'Container', id: 1 } },
            },
            ContainerStatusRequest: {
              fields: { container_id: { type: 'string', id: 1 }, verbose: { type: 'bool', id: 2 } },
            },
            ContainerStatus: {
              fields: {
                id: { type: 'string', id: 1 },
                metadata: { type: 'ContainerMetadata', id: 2 },
                state: { type: 'ContainerState', id: 3 },
                created_at: { type: 'int64', id: 4 },
                started_at: { type: 'int64', id: 5 },
                finished_at: { type: 'int64', id: 6 },
                exit_code: { type: 'int32', id: 7 },
                image: { type: 'ImageSpec', id: 8 },
                image_ref: { type: 'string', id: 9 },
                reason: { type: 'string', id: 10 },
                message: { type: 'string', id: 11 },
                labels: labels(12),
                annotations: labels(13),
              },
            },
            ContainerStatusResponse: {
              fields: { status: { type: 'ContainerStatus', id: 1 }, info: labels(2) },
            },
          },
        },
      },
    },
  },
} as const;

/** The kubelet's labels on the containers it creates through CRI. */
export const CRI_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const CRI_POD_NAME = 'io.kubernetes.pod.name';
export const CRI_POD_UID = 'io.kubernetes.pod.uid';
export const CRI_CONTAINER_NAME = 'io.kubernetes.container.name';

export interface CriVersion {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export type CriContainerState =
  'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

/** A container as the runtime reports it. */
export interface CriContainer {
  id: string;
  podSandboxId?: string;
  /** The container's name in its pod (metadata.name). */
  name?: string;
  image?: string;
  state?: CriContainerState;
  labels: Record<string, string>;
}

export interface CriClientOptions {
  /** Deadline of each call, ms (default 2000). */
  timeoutMs?: number;
}

type Unary = (
  req: unknown,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: any) => void,
) => void;

/** runtime.v1.RuntimeService over `socket` (a path, or a `unix://` address). */
export class CriClient {
  readonly address: string;
  private readonly client: grpc.Client & Record<string, Unary>;
  private readonly timeoutMs: number;

  constructor(socket: string, opts: CriClientOptions = {}) {
    this.address = socket.startsWith('unix:') ? socket : `unix://${socket}`;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    const def = protoLoader.fromJSON(CRI_RUNTIME_V1 as never, {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as any;
    const Service = pkg.runtime.v1.RuntimeService as grpc.ServiceClientConstructor;
    this.client = new Service(this.address, grpc.credentials.createInsecure(), {
      // The socket is local: fail fast instead of waiting for reconnections.
      'grpc.enable_retries': 0,
    }) as grpc.Client & Record<string, Unary>;
  }

  private call<T>(method: string, req: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.client[method](req, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err)
          reject(
            new Error(`CRI ${method} on ${this.address}: ${err.details || err.message}`, { cause: err }),
          );
        else resolve(res as T);
      });
    });
  }

  async version(): Promise<CriVersion> {
    const r = await this.call<Record<string, string>>('Version', { version: 'v1' });
    return {
      version: r.version,
      runtimeName: r.runtime_name,
      runtimeVersion: r.runtime_version,
      runtimeApiVersion: r.runtime_api_version,
    };
  }

  /** Containers, optionally only those whose labels include `labelSelector`, or the one with `id`. */
  async listContainers(
    filter: { id?: string; labelSelector?: Record<string, string> } = {},
  ): Promise<CriContainer[]> {
    const r = await this.call<{ containers?: any[] }>('ListContainers', {
      filter: { id: filter.id ?? '', label_selector: filter.labelSelector ?? {} },
    });
    return (r.containers ?? []).map((c) => ({
      id: c.id,
      podSandboxId: c.pod_sandbox_id || undefined,
      name: c.metadata?.name || undefined,
      image: c.image?.image || undefined,
      state: c.state,
      labels: c.labels ?? {},
    }));
  }

  /** One container by its full id; undefined when the runtime does not know it. */
  async containerStatus(id: string): Promise<CriContainer | undefined> {
    let r: { status?: any };
    try {
      r = await this.call('ContainerStatus', { container_id: id, verbose: false });
    } catch (err) {
      if ((err as { cause?: grpc.ServiceError }).cause?.code === grpc.status.NOT_FOUND) return undefined;
      throw err;
    }
    const s = r.status;
    if (!s?.id) return undefined;
    return {
      id: s.id,
      name: s.metadata?.name || undefined,
      image: s.image?.image || undefined,
      state: s.state,
      labels: s.labels ?? {},
    };
  }

  close(): void {
    this.client.close();
  }
}
