/**
 * The `relay` section: defaults applied once, limits on by default, every bad value named with its
 * path, a public relay that would carry strangers without limits refused, and the CLI flags and
 * environment variables merged with the file's section rather than replacing it.
 */
import { describe, expect, it } from 'vitest'
import { configFromEnv, mergeLayers } from '../src/node/config/load.js'
import { resolveConfig } from '../src/node/index.js'
import { configIssues } from './helpers/config-issues.js'

const RELAY = '/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWEm4UMwgdXzVhBH1dzYkgpoDweehvoR3sdJ1XQrDp4yEc'

describe('relay config', () => {
  it('reserves automatically on up to two relays, and serves none, by default', () => {
    expect(resolveConfig({}).relay).toEqual({ peers: [], reserve: 'auto', maxRelays: 2 })
  })

  it('serves with limits by default (1 h, 128 MiB per relayed connection), and without on `limits: none`', () => {
    expect(resolveConfig({ relay: { service: true } }).relay.service).toEqual({
      allow: 'trusted',
      maxReservations: 128,
      reservationTtlMs: 7_200_000,
      limits: { durationMs: 3_600_000, dataBytes: 134_217_728 },
    })
    expect(resolveConfig({ relay: { service: { limits: 'none' } } }).relay.service?.limits).toBeUndefined()
    expect(
      resolveConfig({ relay: { service: { limits: { durationMs: 60_000 } } } }).relay.service?.limits,
    ).toEqual({ durationMs: 60_000 })
  })

  it('refuses a public relay without limits: strangers get no more than the configured limits', () => {
    expect(configIssues({ relay: { service: { allow: 'anyone', limits: 'none' } } })).toEqual([
      expect.stringMatching(/^relay\.service\.limits: a public relay \(allow: anyone\) must limit/),
    ])
    expect(resolveConfig({ relay: { service: { allow: 'anyone' } } }).relay.service?.limits).toEqual({
      durationMs: 3_600_000,
      dataBytes: 134_217_728,
    })
  })

  it('names every bad value with its path', () => {
    expect(
      configIssues({
        relay: {
          service: { allow: 'everyone', maxReservations: 0, limits: { dataBytes: 1_000, seconds: 5 } },
          peers: ['/ip4/203.0.113.7/tcp/4001', `${RELAY}/p2p-circuit`],
          reserve: 'sometimes',
          maxRelays: -1,
          colour: 'blue',
        },
      }),
    ).toEqual(
      expect.arrayContaining([
        'relay.service.allow: expected one of trusted, anyone, got "everyone"',
        'relay.service.maxReservations: expected an integer ≥ 1, got 0',
        'relay.service.limits.dataBytes: expected an integer ≥ 262144, got 1000',
        expect.stringMatching(/^relay\.service\.limits\.seconds: unknown setting/),
        expect.stringMatching(/^relay\.peers\[0\]: /),
        expect.stringMatching(/^relay\.peers\[1\]: expected the relay's own address, not a relayed one/),
        'relay.reserve: expected one of auto, always, never, got "sometimes"',
        expect.stringMatching(/^relay\.maxRelays: expected an integer ≥ 1/),
        expect.stringMatching(/^relay\.colour: unknown setting/),
      ]),
    )
  })

  it('merges --relay-service and HORUS_RELAY_PEERS with the file, keeping its service settings', () => {
    const file = { relay: { service: { allow: 'anyone', maxReservations: 8 } } }
    const env = configFromEnv({ HORUS_RELAY_PEERS: RELAY })
    const flags = { relay: { service: true } }
    const relay = resolveConfig(mergeLayers([file, env, flags])).relay
    expect(relay.peers).toEqual([RELAY])
    expect(relay.service).toMatchObject({ allow: 'anyone', maxReservations: 8 })
  })
})
