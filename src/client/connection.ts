/**
 * How the client reaches the services it calls. Over a gateway every call goes to that one node;
 * over the mesh each call goes to a node holding the service's role, found and replaced when it
 * stops answering (see `mesh-connection.ts`).
 */
import type { RpcSubscription } from '../protocols/rpc/client.js'
import { HttpRpcClient } from '../protocols/rpc/http-client.js'
import type { RpcParams } from '../protocols/rpc/messages.js'
import type { OutcomeSubject } from './errors.js'

/** `node` is any mesh node (node.*, mesh.* methods); the others are the roles serving a method. */
export type ServiceRole = 'node' | 'coordinator' | 'supervisor'

export interface ConnectionCallOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /**
   * The call may run twice without harm on any node (reads). Only such calls are retried on
   * another node after a failure that may have happened after the request was sent.
   * @default false
   */
  idempotent?: boolean
  /**
   * The call may run twice without harm on the node that received it, and only there (a signed
   * job: the same envelope again answers the same record; another supervisor would run it a
   * second time). After a failure that may have happened after sending, it is sent again to the
   * same node; when that node stays unreachable the call fails with OutcomeUnknownError.
   * @default false
   */
  sameNodeIdempotent?: boolean
  /** What the call creates, named in the OutcomeUnknownError of an ambiguous failure. */
  outcome?: OutcomeSubject
  /** Told which node answered (its peer ID over the mesh), once the call succeeded. */
  onServed?: (node: string) => void
}

export interface Connection {
  /** How the client is connected, for messages. */
  readonly description: string
  call<T>(role: ServiceRole, method: string, params?: RpcParams, options?: ConnectionCallOptions): Promise<T>
  subscribe<E>(
    role: ServiceRole,
    name: string,
    params?: RpcParams,
    options?: { signal?: AbortSignal },
  ): RpcSubscription<E>
  /**
   * Calls `fn` on each reachable node with `role` (the current one first) until it returns
   * without throwing an error `skip` accepts: for state only one of them holds (a job lives on
   * the supervisor that accepted it).
   */
  untilFound<T>(
    role: ServiceRole,
    fn: (call: <R>(method: string, params?: RpcParams) => Promise<R>) => Promise<T>,
    skip: (err: unknown) => boolean,
    options?: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<T>
  close(): Promise<void>
}

/** One gateway: the node behind it serves every role the client uses, or answers "not found". */
export class GatewayConnection implements Connection {
  readonly description: string
  private readonly client: HttpRpcClient

  constructor(init: { url: string; token?: string; defaultTimeoutMs: number }) {
    this.description = `gateway ${init.url}`
    this.client = new HttpRpcClient({
      url: init.url,
      defaultTimeoutMs: init.defaultTimeoutMs,
      ...(init.token === undefined ? {} : { token: init.token }),
    })
  }

  call<T>(
    _role: ServiceRole,
    method: string,
    params?: RpcParams,
    options: ConnectionCallOptions = {},
  ): Promise<T> {
    return this.client.call<T>(method, params, {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    })
  }

  subscribe<E>(
    _role: ServiceRole,
    name: string,
    params?: RpcParams,
    options: { signal?: AbortSignal } = {},
  ): RpcSubscription<E> {
    return this.client.subscribe<E>(name, params, options)
  }

  untilFound<T>(
    _role: ServiceRole,
    fn: (call: <R>(method: string, params?: RpcParams) => Promise<R>) => Promise<T>,
    _skip: (err: unknown) => boolean,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    return fn((method, params) => this.call('node', method, params, options))
  }

  close(): Promise<void> {
    return this.client.close()
  }
}
