/**
 * The gateway's route table. Later features mount themselves here (the dashboard's static files
 * and event stream, `POST /hooks/<name>`) without touching the gateway: the longest matching
 * prefix wins, and a path that matches with the wrong method gets 405 with `Allow`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Caller } from '../../protocols/rpc/definitions.js'

export interface RouteContext {
  /** Parsed request URL (path and query). */
  url: URL
  /** `via: 'http'` with the remote address; the same shape the RPC `authorize` hook receives. */
  caller: Caller
  /** Aborted when the client goes away or the gateway stops. */
  signal: AbortSignal
}

/** A thrown error becomes a 500 without details; handlers answer their own 4xx. */
export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
) => void | Promise<void>

export interface RouteOptions {
  /**
   * The handler authenticates each request itself (a webhook's HMAC signature), so the gateway's
   * bearer-token and loopback-Host checks do not run first. @default false
   */
  authenticatesItself?: boolean
}

interface Route {
  method: string
  prefix: string
  handler: RouteHandler
  authenticatesItself: boolean
}

export type RouteMatch =
  | { kind: 'found'; handler: RouteHandler; authenticatesItself: boolean }
  | { kind: 'method'; allow: string[] }
  | { kind: 'none' }

export class RouteTable {
  private routes: Route[] = []

  /**
   * Serve `method` (`'GET'`, `'POST'`, … or `'*'`) for `prefix` and everything below it
   * (`/hooks` matches `/hooks` and `/hooks/x`, not `/hooksx`). Returns the unmount function.
   */
  add(method: string, prefix: string, handler: RouteHandler, options: RouteOptions = {}): () => void {
    if (!prefix.startsWith('/')) throw new TypeError(`route prefix must start with "/", got "${prefix}"`)
    const route: Route = {
      method: method.toUpperCase(),
      prefix: trimSlash(prefix),
      handler,
      authenticatesItself: options.authenticatesItself === true,
    }
    this.routes.push(route)
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length)
    return () => {
      this.routes = this.routes.filter((r) => r !== route)
    }
  }

  match(method: string, path: string): RouteMatch {
    let longest: number | undefined
    const allow = new Set<string>()
    for (const route of this.routes) {
      if (longest !== undefined && route.prefix.length < longest) break
      if (!covers(route.prefix, path)) continue
      longest = route.prefix.length
      if (route.method === '*' || route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { kind: 'found', handler: route.handler, authenticatesItself: route.authenticatesItself }
      }
      allow.add(route.method)
    }
    return allow.size > 0 ? { kind: 'method', allow: [...allow] } : { kind: 'none' }
  }
}

function covers(prefix: string, path: string): boolean {
  if (prefix === '') return true
  return path === prefix || path.startsWith(`${prefix}/`)
}

function trimSlash(prefix: string): string {
  return prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
}
