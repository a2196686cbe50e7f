import type { Libp2p } from '@libp2p/interface'
import { boundedCall } from '../core/bounded-call.js'
import { findProviders } from '../protocols/capabilities/find.js'
import { capabilityCid, roleCid } from '../protocols/capabilities/keys.js'
import type { TrustPolicy, TrustRole } from '../protocols/jobs/trust-policy.js'
import type { LivenessService } from '../protocols/liveness/service.js'
import type { AnyMethodDefinition } from '../protocols/rpc/registry.js'
import { listenAddrs } from './peer-views.js'

const LIVE_PEER_SCHEMA = {
  type: 'object',
  required: ['peerId', 'roles', 'capabilities', 'load', 'lastSeen'],
  properties: {
    peerId: { type: 'string' },
    name: { type: 'string', description: "the name this node's trust policy gives the key" },
    addrs: { type: 'array', items: { type: 'string' }, description: 'listen addresses from the peer store' },
    roles: { type: 'array', items: { type: 'string' } },
    capabilities: { type: 'array', items: { type: 'string' } },
    load: {
      type: 'object',
      properties: { running: { type: 'integer' }, capacity: { type: 'integer' } },
    },
    lastSeen: { type: 'string', format: 'date-time' },
  },
}

/**
 * What a node knows of the mesh beyond its own connections: who is alive (heartbeats) and who
 * serves a capability or role (DHT), both as far as this node's trust policy admits them — a
 * heartbeat's roles and capabilities are believed only where the policy grants them, and DHT
 * providers are listed only when their key holds the role (for a capability: `runner` of it).
 * Public, like `node.*`: it reveals nothing a mesh member could not learn by listening to gossip or
 * querying the DHT itself.
 */
export function meshMethods(
  libp2p: Libp2p,
  liveness: LivenessService,
  policy: () => TrustPolicy,
  nameOf: (peerId: string) => string | undefined = () => undefined,
): AnyMethodDefinition[] {
  return [
    {
      name: 'mesh.liveness',
      summary: 'Nodes heard on the liveness topic recently: roles, capabilities and load.',
      role: 'node',
      params: {
        type: 'object',
        properties: { role: { type: 'string' }, capability: { type: 'string' } },
        additionalProperties: false,
      },
      result: { type: 'array', items: LIVE_PEER_SCHEMA },
      resultName: 'peers',
      handler: async (params: { role?: string; capability?: string }) => {
        const peers = liveness
          .alive()
          .filter((p) => params.role === undefined || p.roles.includes(params.role))
          .filter((p) => params.capability === undefined || p.capabilities.includes(params.capability))
        return Promise.all(
          peers.map(async (p) => ({
            peerId: p.peerId,
            ...withName(nameOf(p.peerId)),
            addrs: await listenAddrs(libp2p, p.peerId),
            roles: p.roles,
            capabilities: p.capabilities,
            load: p.load,
            lastSeen: new Date(p.lastSeen).toISOString(),
          })),
        )
      },
    },
    {
      name: 'mesh.find_providers',
      summary:
        "Peers that provide a capability or a role in the DHT and that this node's policy trusts in it.",
      role: 'node',
      params: {
        type: 'object',
        properties: {
          capability: { type: 'string', minLength: 1, maxLength: 64 },
          role: { enum: ['coordinator', 'supervisor', 'runner'] },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
        },
        oneOf: [{ required: ['capability'] }, { required: ['role'] }],
        additionalProperties: false,
      },
      result: { type: 'array', items: { type: 'string', description: 'peer ID' } },
      resultName: 'providers',
      handler: async (params: { capability?: string; role?: string; limit: number }, { signal }) => {
        const cid =
          params.capability === undefined
            ? await roleCid(params.role as string)
            : await capabilityCid(params.capability)
        const found = await boundedCall(signal, 10_000, (bounded) =>
          findProviders(libp2p, cid, { signal: bounded, limit: params.limit }),
        )
        const query =
          params.capability === undefined
            ? { role: params.role as TrustRole }
            : { role: 'runner' as const, capability: params.capability }
        const current = policy()
        return found.map((p) => p.id.toString()).filter((peer) => current.admitsPeer(peer, query))
      },
    },
  ]
}

function withName(name: string | undefined): { name?: string } {
  return name === undefined ? {} : { name }
}
