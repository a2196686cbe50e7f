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
 * TCP whose sockets write the chunks of one send in one `writev`.
 *
 * Why: noise hands the socket a length prefix and a sealed message per noise message, and Node
 * makes a `write` syscall for each. Once a connection is upgraded its muxer already holds the
 * frames of a turn and writes them at once (`frame-coalescing.ts`), so corking the socket around
 * that one send is enough: prefixes and messages leave in one `writev`, in the same turn, with no
 * copies (the socket is uncorked before `sendData` returns). Ordering, back-pressure (`write`'s
 * return value, `drain`) and `end()` are Node's own.
 *
 * Corking starts only once the connection is upgraded, which leaves the handshake's writes as
 * libp2p makes them.
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
  candidate.sendData = (data) => {
    socket.cork()
    try {
      return send.call(conn, data)
    } finally {
      socket.uncork()
    }
  }
}
