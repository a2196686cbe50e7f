/**
 * Who may touch a run (issue 10, part B): only its submitter or an `admin` key reads, lists,
 * follows, cancels, pauses or resumes it; every decision is in the run's replicated log. Triggers
 * run with their registrar's authority, and hooks need an HMAC signature or the gateway token.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { MonitorEvent } from '../src/protocols/events/index.js'
import { peerIdFromPublicKeyHex, toHex } from '../src/protocols/jobs/index.js'
import type { RunView } from '../src/roles/coordinator/index.js'
import { runAuthority, runSubmitter } from '../src/roles/coordinator/service/run-access.js'
import { waitFor } from '../src/testing/index.js'
import { DEPUTY, GATED, HERO_ONLY, refusal, startAuthorityMesh } from './authority-fixtures.js'
import { coordinatorOf, hookHeaders, JobMesh, registerParams, submitParams } from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('who may touch a run', () => {
  it('another client can neither read, list, follow nor control it; an admin can; all of it is audited', async () => {
    const m = await startAuthorityMesh(mesh)
    const coordinator = coordinatorOf(m.hub)
    const [alice, bob, admin] = [m.alice, m.bob, m.admin].map((who) => mesh.client(who, m.hub)) as [
      ReturnType<typeof mesh.client>,
      ReturnType<typeof mesh.client>,
      ReturnType<typeof mesh.client>,
    ]
    const { runId } = await alice.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(m.alice, GATED),
    )
    const bobsRun = await bob.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(m.bob, HERO_ONLY),
    )
    await waitFor(() => m.gates.entered.has('held'), { what: "alice's step to start" })
    expect(runSubmitter(coordinator.runState(runId)?.state.meta)).toBe(
      toHex(m.alice.node.trust.signer.publicKey),
    )

    const denied = [
      ['coordinator.get_workflow_status', { runId }],
      ['coordinator.get_workflow_logs', { runId }],
      ['coordinator.get_workflow_errors', { runId }],
      ['coordinator.get_workflow_metrics', { runId }],
      ['coordinator.pending_steps', { runId }],
      ['coordinator.wait_for_completion', { runId, timeoutMs: 1_000 }],
      ['coordinator.cancel_workflow', { runId }],
      ['coordinator.pause_workflow', { runId }],
      ['coordinator.resume_workflow', { runId }],
    ] as const
    for (const [method, params] of denied) {
      const err = await refusal(bob.call(method, params as never))
      expect(err.data, method).toMatchObject({ name: 'RunAccessDeniedError', reason: 'not_submitter' })
    }
    const sub = bob.subscribe<MonitorEvent>('coordinator.events', { runId })
    await expect(sub.id).rejects.toMatchObject({ data: { name: 'RunAccessDeniedError' } })
    expect(coordinator.access.stats.denied).toBe(denied.length + 1)

    const listed = async (client: typeof bob) =>
      (await client.call<Array<{ runId: string }>>('coordinator.list_workflows', {})).map((r) => r.runId)
    expect(await listed(bob)).toEqual([bobsRun.runId])
    expect((await listed(alice)).sort()).toEqual([runId])
    expect((await listed(admin)).sort()).toEqual([runId, bobsRun.runId].sort())

    // Bob's unfiltered event stream carries his runs' events, never alice's.
    const bobEvents: MonitorEvent[] = []
    const all = bob.subscribe<MonitorEvent>('coordinator.events', {})
    await all.id
    const collecting = (async () => {
      for await (const event of all) bobEvents.push(event)
    })()

    // An admin may; so may the submitter.
    expect((await admin.call<RunView>('coordinator.pause_workflow', { runId })).status).toBe('paused')
    expect((await admin.call<RunView>('coordinator.resume_workflow', { runId })).status).toBe('running')
    expect((await admin.call<RunView>('coordinator.get_workflow_status', { runId })).runId).toBe(runId)
    m.gates.open('held')
    const done = await alice.call<RunView>('coordinator.wait_for_completion', { runId, timeoutMs: 15_000 })
    expect(done.status).toBe('completed')
    await all.unsubscribe()
    await collecting
    expect(bobEvents.filter((e) => e.runId === runId)).toEqual([])

    // The audit trail, replicated in the run's log and shown by `workflow logs`.
    const lines = await alice.call<Array<{ message: string }>>('coordinator.get_workflow_logs', { runId })
    const messages = lines.map((l) => l.message)
    for (const action of ['status', 'cancel', 'pause', 'resume', 'events'])
      expect(messages, action).toContain(`${action} refused to ${m.bob.peerId}`)
    expect(messages).toContain(`pause by ${m.admin.peerId}`)
    expect(messages).toContain(`resume by ${m.admin.peerId}`)
    expect(messages).toContain(`submit by ${m.alice.peerId}`)
    const audit = coordinator
      .runState(runId)
      ?.state.log()
      .filter((e) => e.type === 'audit')
    expect(
      audit?.some((e) => (e.data as { key?: string }).key === toHex(m.admin.node.trust.signer.publicKey)),
    ).toBe(true)
    // Nothing of bob's attempts reached the run: it completed with alice's output only.
    expect(done.steps.map((s) => s.output)).toEqual([{ hero: 'gate:held', input: {} }])
  })

  it('through the gateway the node is the submitter, and the audit says so', async () => {
    const m = await startAuthorityMesh(mesh, { gateway: { listen: '127.0.0.1:0' } })
    const url = m.hub.node.gateway?.url as string
    const rpc = async (method: string, params: unknown): Promise<{ result?: unknown; error?: unknown }> => {
      const res = await fetch(`${url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      })
      return (await res.json()) as { result?: unknown; error?: unknown }
    }
    const { result } = await rpc('coordinator.submit_workflow', { workflow: HERO_ONLY })
    const runId = (result as { runId: string }).runId
    const coordinator = coordinatorOf(m.hub)
    expect(runSubmitter(coordinator.runState(runId)?.state.meta)).toBe(
      toHex(m.hub.node.trust.signer.publicKey),
    )
    await coordinator.waitForCompletion(runId, 15_000)
    const logs = (await rpc('coordinator.get_workflow_logs', { runId })).result as Array<{ message: string }>
    expect(logs.map((l) => l.message)).toContain(`submit by ${m.hub.peerId} through the HTTP gateway`)
    // Alice cannot read a run the node submitted.
    const alice = mesh.client(m.alice, m.hub)
    expect((await refusal(alice.call('coordinator.get_workflow_status', { runId }))).data.name).toBe(
      'RunAccessDeniedError',
    )
  })
})

describe('triggers run with the authority of whoever registered them', () => {
  it('refuses a hero-only registrar a sal trigger; hooks need the HMAC or the token; runs carry the registration', async () => {
    const m = await startAuthorityMesh(mesh, {
      gateway: { listen: '127.0.0.1:0', token: 'gateway-token-0123456789' },
    })
    const coordinator = coordinatorOf(m.hub)
    const alice = mesh.client(m.alice, m.hub)
    const bob = mesh.client(m.bob, m.hub)
    const secret = 'alice-hook-secret-0123'

    for (const kind of ['http', 'cron'] as const) {
      const trigger = {
        name: `deputy-${kind}`,
        kind,
        workflow: DEPUTY,
        ...(kind === 'cron' ? { schedule: '* * * * * *' } : { secret }),
      }
      const err = await refusal(
        alice.call('coordinator.register_trigger', registerParams(m.alice, trigger) as never),
      )
      expect(err.data).toMatchObject({ name: 'CapabilityDeniedError', step: 'workflow.steps[1] "b"' })
    }
    // Signed by alice, sent by bob.
    const aliceTrigger = registerParams(m.alice, { name: 'greet', kind: 'http', workflow: HERO_ONLY, secret })
    expect((await refusal(bob.call('coordinator.register_trigger', aliceTrigger as never))).data.reason).toBe(
      'submitter_mismatch',
    )
    expect(coordinator.refusals).toMatchObject({ capability_denied: 2, submitter_mismatch: 1 })
    expect(await alice.call('coordinator.register_trigger', aliceTrigger as never)).toEqual({ name: 'greet' })

    const url = `${m.hub.node.gateway?.url as string}/hooks/greet`
    const post = (headers: Record<string, string>, body?: string) =>
      fetch(url, { method: 'POST', headers, ...(body === undefined ? {} : { body }) })
    const body = '{}'
    expect((await post({ 'content-type': 'application/json' }, body)).status).toBe(401)
    expect((await post(hookHeaders('wrong-secret-0123456789', body), body)).status).toBe(401)
    // Cross-site: an empty body from a foreign origin, as a form post would send it — refused by
    // the gateway's Origin check, even when it carries a valid signature.
    const csrf = await post({ origin: 'https://evil.example', 'content-type': 'text/plain' })
    expect(csrf.status).toBe(403)
    const csrfSigned = await post({ ...hookHeaders(secret, ''), origin: 'https://evil.example' }, '')
    expect(csrfSigned.status).toBe(403)
    // Without an Origin, a body that is not declared JSON is refused even when signed.
    const notJson = await post({ ...hookHeaders(secret, ''), 'content-type': 'text/plain' }, '')
    expect(notJson.status).toBe(415)
    expect(coordinator.triggers.hookStats).toMatchObject({
      unauthenticated: 1,
      badSignature: 1,
      notJson: 1,
      accepted: 0,
    })
    expect(coordinator.engine.runs.size).toBe(0)

    const signed = await post(hookHeaders(secret, body), body)
    expect(signed.status).toBe(200)
    const { runId } = (await signed.json()) as { runId: string }
    expect(runId).toMatch(/^hook\.greet\.[0-9a-f-]{36}$/)
    const withToken = await post({
      authorization: 'Bearer gateway-token-0123456789',
      'content-type': 'application/json',
    })
    expect(withToken.status).toBe(200)

    // The run executes for alice, under her signed registration: she may read it, bob may not.
    const done = await alice.call<RunView>('coordinator.wait_for_completion', { runId, timeoutMs: 15_000 })
    expect(done.status).toBe('completed')
    const authority = runAuthority(coordinator.runState(runId)?.state.meta)
    expect(authority).toMatchObject({
      trigger: { name: 'greet', kind: 'http', submitter: toHex(m.alice.node.trust.signer.publicKey) },
      firing: { runId },
    })
    expect(
      peerIdFromPublicKeyHex(runSubmitter(coordinator.runState(runId)?.state.meta) as string).toString(),
    ).toBe(m.alice.peerId)
    expect((await refusal(bob.call('coordinator.get_workflow_status', { runId }))).data.name).toBe(
      'RunAccessDeniedError',
    )
    expect([...m.executions.byJob.keys()].every((id) => id.startsWith('hook.greet.'))).toBe(true)
    expect(m.executions.byJob.size).toBe(2)
  })
})
