/**
 * A mesh for the authority tests: a coordinator+supervisor hub, a runner serving `hero` and `sal`
 * (test handlers under those names, so every execution is counted), and client nodes with scoped
 * trust entries — alice and bob trusted as clients for `hero` only, an admin key, and mallory, a
 * key trusted as a coordinator for everything (the deputy that must not be confused).
 */
import type { KindHandler } from '../src/roles/runner/index.js'
import {
  Executions,
  Gates,
  type JobMesh,
  type MeshMember,
  type RunningMember,
  runnerVisible,
} from './coordinator-fixtures.js'

export interface AuthorityMesh {
  mesh: JobMesh
  gates: Gates
  executions: Executions
  hub: RunningMember
  runner: RunningMember
  alice: RunningMember
  bob: RunningMember
  admin: RunningMember
  mallory: RunningMember
}

type Entry = { key: string; name: string; roles: string[]; capabilities: string[] }

/** A trust section giving each named member the roles and capabilities listed for it. */
export function scopedTrust(
  members: Record<string, MeshMember>,
  scopes: Record<string, [roles: string[], capabilities: string[]]>,
): { keys: Entry[] } {
  return {
    keys: Object.entries(scopes).map(([name, [roles, capabilities]]) => ({
      key: (members[name] as MeshMember).peerId,
      name,
      roles,
      capabilities,
    })),
  }
}

function trustOf(members: Record<string, MeshMember>): { keys: Entry[] } {
  return scopedTrust(members, {
    hub: [['client', 'coordinator', 'supervisor', 'runner'], ['*']],
    runner: [['runner'], ['*']],
    alice: [['client'], ['hero']],
    bob: [['client'], ['hero']],
    admin: [['client', 'admin'], ['hero']],
    mallory: [['coordinator'], ['*']],
  })
}

/** `hero` echoes (or waits for the gate named after `gate:`); `sal` would run anything — it must never run. */
function kinds(gates: Gates, executions: Executions): Record<string, KindHandler> {
  return {
    hero: async (job, ctx) => {
      executions.add(job.id)
      if (job.payload.startsWith('gate:')) await gates.wait(job.payload.slice(5), ctx.signal)
      return { hero: job.payload, input: job.input }
    },
    sal: async (job) => {
      executions.add(job.id)
      return { pwned: true }
    },
  }
}

export async function startAuthorityMesh(
  mesh: JobMesh,
  hubExtra: Record<string, unknown> = {},
): Promise<AuthorityMesh> {
  const names = ['hub', 'runner', 'alice', 'bob', 'admin', 'mallory'] as const
  const members: Record<string, MeshMember> = {}
  for (const name of names) members[name] = await mesh.member(name)
  const trust = trustOf(members)
  const gates = new Gates()
  const executions = new Executions()
  const hub = await mesh.start(members.hub as MeshMember, {
    roles: ['coordinator', 'supervisor'],
    extra: { trust, ...hubExtra },
    options: { coordinator: { runnerKinds: ['hero', 'sal'] } },
  })
  const runner = await mesh.start(members.runner as MeshMember, {
    roles: ['runner'],
    bootstrap: hub,
    extra: { trust },
    options: { runner: { builtins: false, kinds: kinds(gates, executions) } },
  })
  const client = (name: string) =>
    mesh.start(members[name] as MeshMember, { roles: [], bootstrap: hub, extra: { trust } })
  const [alice, bob, admin, mallory] = [
    await client('alice'),
    await client('bob'),
    await client('admin'),
    await client('mallory'),
  ]
  await runnerVisible(hub, 'sal', runner)
  return { mesh, gates, executions, hub, runner, alice, bob, admin, mallory }
}

export const HERO_ONLY = {
  workflow: { name: 'hero-only', steps: [{ id: 'a', runner: 'hero', payload: 'hello' }] },
}

export const GATED = {
  workflow: { name: 'gated', steps: [{ id: 'a', runner: 'hero', payload: 'gate:held' }] },
}

/** The confused deputy: a hero step, then a sal step a hero-only client must never get run. */
export const DEPUTY = {
  workflow: {
    name: 'deputy',
    steps: [
      { id: 'a', runner: 'hero', payload: 'hello' },
      { id: 'b', runner: 'sal', payload: 'rm -rf /', depends_on: ['a'] },
    ],
  },
}

/** The same, hidden in a composed workflow (expanded at compile time). */
export const COMPOSED_DEPUTY = {
  workflow: { name: 'outer', steps: [{ id: 'inner', workflow: 'child' }] },
  workflows: { child: { name: 'child', steps: [{ id: 'x', runner: 'sal', payload: 'id' }] } },
}

/** The error a call was refused with (its JSON-RPC `data` included); fails if the call succeeded. */
export async function refusal(promise: Promise<unknown>): Promise<Error & { data: Record<string, unknown> }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (err === undefined) throw new Error('expected a refusal, the call succeeded')
  return err as Error & { data: Record<string, unknown> }
}
