import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createJobExecutor, type JobExecutor } from '../src/roles/runner/execution/index.js'
import { builtinKinds } from '../src/roles/runner/kinds/index.js'
import { job, processAlive, startHttpServer, type TestHttpServer, waitFor } from './runner-fixtures.js'

const SEED_PROCESS = 'let data = input.fetch;\nlet processed = process_data(data);\nprocessed\n'

describe('sal kind', () => {
  let server: TestHttpServer
  let executor: JobExecutor
  let scratch: string

  beforeAll(async () => {
    server = await startHttpServer()
    scratch = await mkdtemp(join(tmpdir(), 'horus-sal-test-'))
    executor = createJobExecutor({ kinds: builtinKinds(), concurrency: 2 })
    executor.functions.register('process_data', async (data) => {
      const items = (data as { items: number[] }).items
      return { count: items.length, sum: items.reduce((a, b) => a + b, 0) }
    })
    await executor.start()
  })

  afterAll(async () => {
    await executor.stop()
    await server.close()
    await rm(scratch, { recursive: true, force: true })
  })

  it('runs the seed process step as written, with a registered process_data', async () => {
    const result = await executor.execute(
      job('sal', SEED_PROCESS, { input: { fetch: { items: [1, 2, 3] } } }),
    )
    expect(result).toMatchObject({ status: 'succeeded', output: { count: 3, sum: 6 } })
  })

  it('runs commands through os.exec with env, cwd and exit codes', async () => {
    const code = [
      'fs.write("sub/note.txt", "hi");',
      'let r = os.exec("echo $A-$B; cat note.txt; exit 4", { env: { B: "two" }, cwd: "sub" });',
      'console.log("exit", r.code);',
      '({ code: r.code, stdout: r.stdout, home: os.exec("echo $' +
        '{SECRET_RUNNER_VAR:-unset}").stdout.trim() })',
    ].join('\n')
    process.env.SECRET_RUNNER_VAR = 'leaked'
    try {
      const result = await executor.execute(job('sal', code, { env: { A: 'one' } }))
      expect(result.status).toBe('succeeded')
      expect(result.output).toEqual({ code: 4, stdout: 'one-two\nhi', home: 'unset' })
      expect(result.logs).toContain('exit 4')
    } finally {
      delete process.env.SECRET_RUNNER_VAR
    }
  })

  it('reads, writes and lists files in the work directory only', async () => {
    const code = [
      'let n = fs.write("a.txt", "alpha");',
      'fs.write("d/b.json", { b: 1 });',
      '[n, fs.read("a.txt"), fs.read("d/b.json"), fs.list(), fs.list("d").map((e) => e.name)]',
    ].join('\n')
    const result = await executor.execute(job('sal', code))
    expect(result.output).toEqual([
      5,
      'alpha',
      '{"b":1}',
      [
        { name: 'a.txt', type: 'file', size: 5 },
        { name: 'd', type: 'directory', size: expect.any(Number) },
      ],
      ['b.json'],
    ])
  })

  it.each([
    ['fs.read("../../etc/passwd")', "'..' is not allowed"],
    ['fs.read("/etc/passwd")', 'absolute paths are not allowed'],
    ['fs.write("../escape.txt", "x")', "'..' is not allowed"],
    ['fs.list("/")', 'absolute paths are not allowed'],
    ['os.exec("ln -s /etc out"); fs.read("out/passwd")', 'outside'],
    ['os.exec("ln -s /etc out"); fs.write("out/evil", "x")', 'outside'],
    ['os.exec("ln -s /etc/hostname link"); fs.write("link", "x")', 'symlink'],
    ['os.exec("ln -s /etc out"); fs.list("out")', 'outside'],
    ['os.exec("pwd", { cwd: "../.." })', "'..' is not allowed"],
  ])('refuses %s', async (code, reason) => {
    const result = await executor.execute(job('sal', code))
    expect(result.status).toBe('failed')
    expect(result.error).toMatchObject({ name: 'PathOutsideWorkDirError', code: 'PATH_OUTSIDE_WORKDIR' })
    expect(result.error?.message).toContain(reason)
  })

  it('lets a script catch a refused path and carry on', async () => {
    const code = 'let e; try { fs.read("/etc/passwd") } catch (err) { e = [err.name, err.code] } e'
    const result = await executor.execute(job('sal', code))
    expect(result.output).toEqual(['PathOutsideWorkDirError', 'PATH_OUTSIDE_WORKDIR'])
  })

  it('does not follow a symlink planted outside to a file the runner can read', async () => {
    const secret = join(scratch, 'secret.txt')
    await writeFile(secret, 'top secret')
    const result = await executor.execute(job('sal', `os.exec("ln -s ${secret} s.txt"); fs.read("s.txt")`))
    expect(result.error?.name).toBe('PathOutsideWorkDirError')
  })

  it('calls HTTP with http.get/post, returning status, headers and parsed bodies', async () => {
    const code = [
      `let a = http.get("${server.url}/data");`,
      `let b = http.post("${server.url}/echo", { x: 1 }, { headers: { authorization: "k" } });`,
      `let c = http.get("${server.url}/fail");`,
      '[a.status, a.body.items, b.body, c.status, c.body]',
    ].join('\n')
    const result = await executor.execute(job('sal', code))
    expect(result.output).toEqual([
      200,
      [1, 2, 3],
      { body: '{"x":1}', contentType: 'application/json', auth: 'k' },
      500,
      'boom',
    ])
  })

  it('times out a command and kills its whole process group, grandchildren included', async () => {
    const pidFile = join(scratch, 'grandchild.pid')
    const code = 'os.exec("sleep 30 & echo $! > \\"$PID_FILE\\"; wait", { timeout: 300 })'
    const result = await executor.execute(job('sal', code, { env: { PID_FILE: pidFile } }))
    expect(result.status).toBe('failed')
    expect(result.error).toMatchObject({ name: 'CommandTimeoutError', code: 'COMMAND_TIMEOUT' })
    const pid = Number((await readFile(pidFile, 'utf8')).trim())
    expect(pid).toBeGreaterThan(0)
    await waitFor(async () => !(await processAlive(pid)), 5_000)
  })

  it('kills what a command left running in the background once the command exits', async () => {
    const pidFile = join(scratch, 'background.pid')
    const result = await executor.execute(
      job('sal', 'os.exec("sleep 30 > /dev/null 2>&1 & echo $! > \\"$PID_FILE\\"").code', {
        env: { PID_FILE: pidFile },
      }),
    )
    expect(result.output).toBe(0)
    const pid = Number((await readFile(pidFile, 'utf8')).trim())
    await waitFor(async () => !(await processAlive(pid)), 5_000)
  })

  it('rejects bad host API arguments with a typed error', async () => {
    const result = await executor.execute(job('sal', 'os.exec(42)'))
    expect(result.error).toMatchObject({ name: 'HostArgumentError', code: 'HOST_ARGUMENT_INVALID' })
    expect(result.error?.message).toContain('os.exec(cmd): expected a string, got number')
  })
})
