/**
 * Methods every node serves, whatever its roles: `node.info`, `node.peers`, `node.health`.
 * (`rpc.discover` is served by the registry itself, so any registry — a test's, the gateway's —
 * describes itself.) The node passes read-only accessors; nothing here holds libp2p.
 */
import type { AnyMethodDefinition } from './registry.js'

export interface PeerSummary {
  peerId: string
  /**
   * Where the peer listens (what it announced through identify), each with `/p2p/<id>`; empty for
   * a dial-only client. Not the ephemeral port of the connection.
   */
  addrs: string[]
  /** The name the answering node's trust policy gives the peer's key, when it names one. */
  name?: string
  /** Roles the peer announces in its heartbeats, when the answering node has heard them. */
  roles?: string[]
  /** Who opened the connection. */
  direction?: 'inbound' | 'outbound'
  latencyMs?: number
  /**
   * Peer ID of the circuit relay every connection to this peer runs through; absent when a direct
   * connection is open. The dashboard shows such peers as relayed.
   */
  relay?: string
  /** The relay limits the relayed connection (duration or data): only Horus RPC runs over it. */
  limited?: boolean
}

export interface NodeHealth {
  /** `ok` when every started component is healthy. */
  status: 'ok' | 'degraded'
  /** Per-component detail, e.g. `{ coordinator: 'ok', datastore: 'ok' }`. */
  checks?: Record<string, string>
  [key: string]: unknown
}

export interface NodeInfoSource {
  peerId: string
  publicKeyHex: string
  roles: readonly string[]
  version: string
  /** Epoch milliseconds. */
  startedAt: number
  getMultiaddrs(): string[]
  getPeers(): PeerSummary[] | Promise<PeerSummary[]>
  health(): NodeHealth | Promise<NodeHealth>
}

const NO_PARAMS = { type: 'object', properties: {}, additionalProperties: false } as const

const PEER_SCHEMA = {
  type: 'object',
  required: ['peerId', 'addrs'],
  properties: {
    peerId: { type: 'string' },
    addrs: { type: 'array', items: { type: 'string' }, description: 'listen addresses the peer announced' },
    name: { type: 'string', description: "the name this node's trust policy gives the key" },
    roles: { type: 'array', items: { type: 'string' } },
    direction: { enum: ['inbound', 'outbound'] },
    latencyMs: { type: 'number' },
    relay: {
      type: 'string',
      description:
        'peer ID of the circuit relay every connection to the peer runs through (absent when direct)',
    },
    limited: { type: 'boolean', description: 'the relay limits the relayed connection (duration or data)' },
  },
}

export function nodeMethods(info: NodeInfoSource): AnyMethodDefinition[] {
  return [
    {
      name: 'node.info',
      summary: 'Who this node is: peer ID, public key, roles, addresses, version and uptime.',
      role: 'node',
      params: NO_PARAMS,
      result: {
        type: 'object',
        required: ['peerId', 'publicKey', 'roles', 'multiaddrs', 'version', 'startedAt', 'uptimeMs'],
        properties: {
          peerId: { type: 'string' },
          publicKey: { type: 'string', description: 'hex' },
          roles: { type: 'array', items: { type: 'string' } },
          multiaddrs: { type: 'array', items: { type: 'string' } },
          version: { type: 'string' },
          startedAt: { type: 'string', format: 'date-time' },
          uptimeMs: { type: 'integer', minimum: 0 },
        },
      },
      resultName: 'info',
      handler: () => ({
        peerId: info.peerId,
        publicKey: info.publicKeyHex,
        roles: [...info.roles],
        multiaddrs: info.getMultiaddrs(),
        version: info.version,
        startedAt: new Date(info.startedAt).toISOString(),
        uptimeMs: Math.max(0, Date.now() - info.startedAt),
      }),
    },
    {
      name: 'node.peers',
      summary:
        'Peers this node is connected to: their listen addresses, trust-policy name and announced roles.',
      role: 'node',
      params: NO_PARAMS,
      result: { type: 'array', items: PEER_SCHEMA },
      resultName: 'peers',
      handler: () => info.getPeers(),
    },
    {
      name: 'node.health',
      summary: 'Whether this node and its components are healthy.',
      role: 'node',
      params: NO_PARAMS,
      result: {
        type: 'object',
        required: ['status'],
        properties: {
          status: { enum: ['ok', 'degraded'] },
          checks: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
      resultName: 'health',
      handler: () => info.health(),
    },
  ]
}
