import { Socket } from 'node:net'
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'

type TransportFactory = ReturnType<typeof tcp>
type SendData = (data: Iterable<Uint8Array>) => { sentBytes: number; canSendMore: boolean }

/** The part of @libp2p/tcp's connection this module relies on: its socket and `sendData`. */
interface SocketConnection {
  socket?: unknown
  sendData?: SendData
}

/**
 * TCP whose sockets coalesce the writes of one event-loop turn into one `writev`.
 *
 * Why: yamux hands every frame to the connection at once and noise encrypts and writes each
 * immediately, so a busy node makes a `write` syscall per frame. Corking the socket on the first
 * write of a turn and uncorking it in the check phase halves the syscalls of the vs-bullmq bench
 * (BENCHMARKS.md). Ordering, back-pressure (`write`'s return value, `drain`) and `end()` are
 * Node's own for a corked socket.
 *
 * Corking starts only once the connection is upgraded: during the upgrade, coalescing would put
 * the dialer's first stream openings in the same read as its last handshake message, before the
 * listener has a stream handler, and yamux aborts a connection with more than ten such "early"
 * streams.
 */
export function corkedTcp(init?: Parameters<typeof tcp>[0]): TransportFactory {
  const factory = tcp(init)
  return (components) => {
    const inner = factory(components)
    return new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'dial') {
          return (ma: Parameters<Transport['dial']>[0], options: Parameters<Transport['dial']>[1]) =>
            dialDetached(options.signal, (signal) =>
              target.dial(ma, { ...options, signal, upgrader: corkingUpgrader(options.upgrader) }),
            )
        }
        if (property === 'createListener') {
          return (options: Parameters<Transport['createListener']>[0]) =>
            target.createListener({ ...options, upgrader: corkingUpgrader(options.upgrader) })
        }
        return Reflect.get(target, property, receiver)
      },
    })
  }
}

/**
 * Runs a dial with a signal that follows the caller's only until the dial settles.
 *
 * Why: @libp2p/tcp hands the dial's options, signal included, to `net.connect`, and Node binds a
 * socket to the `signal` it was created with for the socket's whole life. Some of libp2p's dial
 * paths pass a signal that a timeout still aborts after the dial succeeded (the stack of such an
 * abort shows a timer firing through two `any-signal` combinators that were never cleared; the
 * DHT's per-request adaptive timeout has a 5 s floor), and the live connection is destroyed.
 * Measured in a 16-node mesh: 30–40 connections aborted locally 4–6 s after they opened, each
 * then redialled, and the scale bench's ping failing on such a connection; with the signal
 * detached, none. The dial itself stays cancellable while it runs.
 */
async function dialDetached<T>(signal: AbortSignal, dial: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const follow = (): void => controller.abort(signal.reason)
  if (signal.aborted) follow()
  else signal.addEventListener('abort', follow, { once: true })
  try {
    return await dial(controller.signal)
  } finally {
    signal.removeEventListener('abort', follow)
  }
}

function corkingUpgrader(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, property, receiver) {
      if (property !== 'upgradeInbound' && property !== 'upgradeOutbound') {
        return Reflect.get(target, property, receiver)
      }
      const upgrade = Reflect.get(target, property, receiver) as (
        conn: MultiaddrConnection,
        ...rest: unknown[]
      ) => Promise<unknown>
      return async (conn: MultiaddrConnection, ...rest: unknown[]) => {
        const upgraded = await upgrade.call(target, conn, ...rest)
        corkWrites(conn)
        return upgraded
      }
    },
  })
}

function corkWrites(conn: MultiaddrConnection): void {
  const candidate = conn as MultiaddrConnection & SocketConnection
  const socket = candidate.socket
  const send = candidate.sendData
  // Another transport's connection (or a changed @libp2p/tcp) is left as it is.
  if (!(socket instanceof Socket) || typeof send !== 'function') return
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  candidate.sendData = (data) => {
    if (!corked && !socket.destroyed) {
      corked = true
      socket.cork()
      setImmediate(uncork)
    }
    // A corked socket holds each chunk until the check phase, while an uncorked write leaves
    // the caller free to reuse its buffer once `write` returns: hold copies, not the caller's.
    const copies: Uint8Array[] = []
    for (const chunk of data) copies.push(Buffer.from(chunk))
    return send.call(conn, copies)
  }
}
