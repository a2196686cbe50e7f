import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliNode, runCli, startCliNode, stopCliNode } from './helpers/cli.js'

/** What bin.cts sets when the user did not (BENCHMARKS.md, "The pool size and malloc's arenas"). */
const DEFAULT_POOL = 2

// The default case needs an environment without the variable, whatever the test run has.
const inherited = process.env.UV_THREADPOOL_SIZE
let dir: string

beforeAll(async () => {
  delete process.env.UV_THREADPOOL_SIZE
  dir = await mkdtemp(join(tmpdir(), 'horus-threadpool-'))
})

afterAll(async () => {
  if (inherited !== undefined) process.env.UV_THREADPOOL_SIZE = inherited
  await rm(dir, { recursive: true, force: true })
})

async function threads(node: CliNode): Promise<number> {
  return (await readdir(`/proc/${node.child.pid}/task`)).length
}

describe('horus sizes libuv’s thread pool', () => {
  it('starts a node with its own pool size, and a user’s UV_THREADPOOL_SIZE wins', async () => {
    // Three supervisors (the role whose LevelDB work runs on the pool); everything else about
    // them is the same, so their thread counts differ by their pools only — libuv starts all of a
    // pool's threads at once, with the first piece of work.
    const start = (name: string, env: Record<string, string> = {}) =>
      startCliNode(
        ['--data-dir', join(dir, name), '--listen', '/ip4/127.0.0.1/tcp/0', '--roles', 'supervisor'],
        { env },
      )
    const nodes = await Promise.all([
      start('default'),
      start('one', { UV_THREADPOOL_SIZE: '1' }),
      start('four', { UV_THREADPOOL_SIZE: '4' }),
    ])
    try {
      const [byDefault, one, four] = await Promise.all(nodes.map(threads))
      expect((byDefault as number) - (one as number)).toBe(DEFAULT_POOL - 1)
      expect((four as number) - (one as number)).toBe(4 - 1)
    } finally {
      await Promise.all(nodes.map((node) => stopCliNode(node)))
    }
  })

  it('leaves the environment of what the process spawns as the user had it', async () => {
    // A CommonJS preload runs before the entry without starting the pool, and reads the
    // environment once the CLI is done: what a job's subprocess would inherit.
    const preload = join(dir, 'print-env.cjs')
    await writeFile(
      preload,
      "process.on('exit', () => process.stdout.write('pool=' + (process.env.UV_THREADPOOL_SIZE ?? 'unset') + '\\n'))\n",
    )
    const byDefault = await runCli(['--version'], { env: { NODE_OPTIONS: `--require=${preload}` } })
    expect(byDefault.code).toBe(0)
    expect(byDefault.stdout).toContain('pool=unset')
    const own = await runCli(['--version'], {
      env: { NODE_OPTIONS: `--require=${preload}`, UV_THREADPOOL_SIZE: '3' },
    })
    expect(own.stdout).toContain('pool=3')
  })
})
