import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createJobExecutor, type JobExecutor } from '../src/roles/runner/execution/index.js'
import { builtinKinds, HeroscriptParseError, parseHeroscript } from '../src/roles/runner/kinds/index.js'
import { job, startHttpServer, type TestHttpServer } from './runner-fixtures.js'

describe('heroscript parser', () => {
  it('parses several actions, continuation lines, multi-line quoted values, escapes and comments', () => {
    const actions = parseHeroscript(
      [
        '// a comment',
        "!!http.get url:'https://x.test/a' timeout:5s",
        '',
        '!!http.post url:https://x.test/b',
        "    body:'line one",
        "line \\'two\\' \\\\ C:\\tmp'",
        "  content_type:'text/plain' note:https://x//y",
      ].join('\r\n'),
    )
    expect(actions).toHaveLength(2)
    expect(actions[0]).toMatchObject({ actor: 'http', action: 'get', line: 2, column: 1 })
    expect(actions[0]?.params.url?.value).toBe('https://x.test/a')
    expect(actions[0]?.params.timeout?.value).toBe('5s')
    expect(actions[1]?.params.url?.value).toBe('https://x.test/b')
    expect(actions[1]?.params.body).toMatchObject({
      value: "line one\nline 'two' \\ C:\\tmp",
      line: 5,
      column: 5,
    })
    expect(actions[1]?.params.content_type?.value).toBe('text/plain')
    expect(actions[1]?.params.note?.value).toBe('https://x//y')
  })

  it.each([
    ["!!http.get url:'https://x", 1, 16, 'unterminated quoted value'],
    ['!!http.get url', 1, 15, "expected ':' after parameter 'url'"],
    ['!!http get', 1, 7, "expected '.' after actor 'http'"],
    ['!!.get', 1, 3, 'expected an actor name'],
    ["url:'x'", 1, 1, 'expected an action such as !!http.get'],
    ["!!http.get url:'a' url:'b'", 1, 20, "parameter 'url' is given twice"],
    ['!!http.get url:', 1, 16, "expected a value after 'url:'"],
    ["!!http.get url:'a'x", 1, 19, "expected a space after the value of 'url'"],
    ['// only a comment', 1, 1, 'the payload has no action'],
    ['!!http.get\n  9lives:x', 2, 3, 'expected a parameter name'],
  ])('reports %j at line %i, column %i', (payload, line, column, reason) => {
    let err: unknown
    try {
      parseHeroscript(payload)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(HeroscriptParseError)
    expect(err).toMatchObject({ line, column, code: 'HEROSCRIPT_INVALID' })
    expect((err as Error).message).toContain(reason)
    expect((err as Error).message).toContain(`line ${line}, column ${column}`)
  })
})

describe('hero kind', () => {
  let server: TestHttpServer
  let executor: JobExecutor

  beforeAll(async () => {
    server = await startHttpServer()
    executor = createJobExecutor({ kinds: builtinKinds() })
    await executor.start()
  })

  afterAll(async () => {
    await executor.stop()
    await server.close()
  })

  it('runs the seed fetch step: !!http.get returns the parsed JSON body', async () => {
    const result = await executor.execute(job('hero', `!!http.get url:'${server.url}/data'`))
    expect(result.status).toBe('succeeded')
    expect(result.output).toEqual({ items: [1, 2, 3], source: 'fixture' })
    expect(result.logs.some((line) => line.includes('→ 200'))).toBe(true)
  })

  it('parses JSON bodies (a byte order mark too) and keeps the text within reach with as:', async () => {
    const get = (path: string, as = '') =>
      executor.execute(job('hero', `!!http.get url:'${server.url}${path}'${as === '' ? '' : ` as:${as}`}`))
    expect((await get('/json-bom')).output).toEqual({ bom: true })
    expect((await get('/data', 'text')).output).toBe(JSON.stringify({ items: [1, 2, 3], source: 'fixture' }))
    // A JSON document served as text stays text unless the step asks for JSON.
    expect((await get('/json-as-text')).output).toBe('{"served": "as text"}')
    expect((await get('/json-as-text', 'json')).output).toEqual({ served: 'as text' })
    const full = await get('/data', 'response')
    expect(full.output).toMatchObject({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: { items: [1, 2, 3], source: 'fixture' },
      text: '{"items":[1,2,3],"source":"fixture"}',
    })
    // Declared JSON that is not: the step fails saying so, instead of passing a string downstream.
    const bad = await get('/bad-json')
    expect(bad.status).toBe('failed')
    expect(bad.error).toMatchObject({ name: 'HttpBodyNotJsonError', code: 'HTTP_BODY_NOT_JSON' })
    expect((await get('/bad-json', 'text')).output).toBe('{"truncated": ')
    const wrong = await get('/data', 'yaml')
    expect(wrong.error).toMatchObject({ name: 'HeroscriptParseError' })
    expect(wrong.error?.message).toContain("as: expected one of auto, json, text, response, got 'yaml'")
  })

  it('returns an array for several actions, with text bodies, posts and shell commands', async () => {
    const payload = [
      `!!http.get url:'${server.url}/text'`,
      `!!http.post url:'${server.url}/echo' body:'{"a": 1}'`,
      `  headers:'Authorization: Bearer t0k'`,
      '!!shell.exec cmd:\'mkdir sub && cd sub && echo "$GREETING from $(basename $PWD)"\'',
      "!!shell.exec cmd:'pwd' cwd:'sub'",
    ].join('\n')
    const result = await executor.execute(job('hero', payload, { env: { GREETING: 'hello' } }))
    expect(result.status).toBe('succeeded')
    const [text, echo, shell, pwd] = result.output as [
      string,
      unknown,
      { stdout: string },
      { stdout: string },
    ]
    expect(text).toBe('plain text')
    expect(echo).toEqual({ body: '{"a": 1}', contentType: 'application/json', auth: 'Bearer t0k' })
    expect(shell).toEqual({ code: 0, stdout: 'hello from sub\n', stderr: '' })
    expect(pwd.stdout.trim().endsWith('/sub')).toBe(true)
  })

  it('fails on a non-2xx answer, a failing command, and unknown actions or parameters before running anything', async () => {
    const failed = await executor.execute(job('hero', `!!http.get url:'${server.url}/fail'`))
    expect(failed.error).toMatchObject({ name: 'HttpStatusError', code: 'HTTP_STATUS', retryable: true })

    const command = await executor.execute(job('hero', "!!shell.exec cmd:'echo oops >&2; exit 3'"))
    expect(command.status).toBe('failed')
    expect(command.error?.name).toBe('CommandFailedError')
    expect(command.error?.message).toContain('exited with code 3')
    expect(command.error?.message).toContain('oops')

    const unknown = await executor.execute(job('hero', "!!shell.exec cmd:'touch ran'\n!!http.fetch url:'x'"))
    expect(unknown.error).toMatchObject({ name: 'HeroscriptParseError' })
    expect(unknown.error?.message).toContain('line 2, column 1: unknown action !!http.fetch')

    const param = await executor.execute(job('hero', "!!http.get url:'x' verb:'GET'"))
    expect(param.error?.message).toContain("line 1, column 20: unknown parameter 'verb'")

    const timeout = await executor.execute(job('hero', "!!shell.exec cmd:'true' timeout:soon"))
    expect(timeout.error?.message).toContain('timeout: expected a duration')
  })

  it('kills a shell command at its timeout and refuses a cwd outside the work directory', async () => {
    const slow = await executor.execute(job('hero', "!!shell.exec cmd:'sleep 5' timeout:200ms"))
    expect(slow.error).toMatchObject({ name: 'CommandTimeoutError', code: 'COMMAND_TIMEOUT' })
    expect(slow.finishedAt - slow.startedAt).toBeLessThan(3_000)

    const outside = await executor.execute(job('hero', "!!shell.exec cmd:'ls' cwd:'../..'"))
    expect(outside.error).toMatchObject({ name: 'PathOutsideWorkDirError', code: 'PATH_OUTSIDE_WORKDIR' })
  })
})
