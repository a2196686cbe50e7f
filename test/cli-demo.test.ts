import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'

describe('horus demo --once', () => {
  it('runs the sample pipeline across three node processes and exits 0', async () => {
    const result = await runCli(['demo', '--once'], { timeoutMs: 120_000 })
    expect(result.stderr).toContain('starting a local mesh')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^run \S+: completed$/m)
    // min, max and mean of the fixture's readings, computed by the fan-out and stored by osiris.
    expect(result.stdout).toContain('statistics: {"max":21,"mean":15,"min":9.75,"sensors":5}')
    expect(result.stdout).toMatch(/stored record: \{"id":"[^"]+","max":21/)
    for (const step of ['fetch', 'process', 'minimum', 'maximum', 'mean', 'aggregate', 'store']) {
      expect(result.stderr).toMatch(new RegExp(`${step}\\s+succeeded`))
    }
    expect(result.stderr).not.toContain('did not stop cleanly')
  })
})
