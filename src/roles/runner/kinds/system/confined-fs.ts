/**
 * File access confined to one job's work directory. A path must be relative, must not contain `..`,
 * and must resolve — after following symlinks (realpath) — inside the directory; the file opened
 * for writing must not itself be a symlink (`O_NOFOLLOW`). Absolute paths, `../../etc/passwd` and
 * symlinks pointing out are all refused with `PathOutsideWorkDirError`.
 */

import { constants } from 'node:fs'
import { lstat, mkdir, open, readdir, realpath } from 'node:fs/promises'
import { isAbsolute, join, relative, sep } from 'node:path'
import { DEFAULT_MAX_FILE_BYTES } from './constants.js'
import { FileOperationError, PathOutsideWorkDirError } from './errors.js'

export interface DirEntry {
  name: string
  type: 'file' | 'directory' | 'symlink' | 'other'
  size: number
}

export class ConfinedFs {
  private readonly root: string
  private readonly maxFileBytes: number
  private realRoot: string | undefined

  constructor(root: string, maxFileBytes = DEFAULT_MAX_FILE_BYTES) {
    this.root = root
    this.maxFileBytes = maxFileBytes
  }

  /** The absolute path of an existing directory inside the root (for a command's `cwd`). */
  async directory(path: string): Promise<string> {
    const real = await this.existing(path)
    const stats = await lstat(real)
    if (!stats.isDirectory()) throw new FileOperationError(`${JSON.stringify(path)} is not a directory`)
    return real
  }

  async read(path: string): Promise<string> {
    const real = await this.existing(path)
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: unknown) => {
      throw fileError('read', path, err)
    })
    try {
      const stats = await handle.stat()
      if (!stats.isFile()) throw new FileOperationError(`read ${JSON.stringify(path)}: not a file`)
      if (stats.size > this.maxFileBytes) {
        throw new FileOperationError(
          `read ${JSON.stringify(path)}: ${stats.size} bytes is more than ${this.maxFileBytes}`,
        )
      }
      return await handle.readFile('utf8')
    } finally {
      await handle.close()
    }
  }

  /** Writes (replacing) a UTF-8 file, creating missing parent directories; returns the byte count. */
  async write(path: string, content: string): Promise<number> {
    const target = this.lexical(path)
    const parent = await this.ensureParent(target, path)
    const file = join(parent, target.slice(target.lastIndexOf(sep) + 1))
    const handle = await open(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o600,
    ).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'ELOOP')
        throw new PathOutsideWorkDirError(path, 'it is a symlink')
      throw fileError('write', path, err)
    })
    try {
      await handle.writeFile(content, 'utf8')
    } finally {
      await handle.close()
    }
    return Buffer.byteLength(content)
  }

  async list(path = '.'): Promise<DirEntry[]> {
    const real = await this.existing(path)
    const entries = await readdir(real, { withFileTypes: true }).catch((err: unknown) => {
      throw fileError('list', path, err)
    })
    const out: DirEntry[] = []
    for (const entry of entries) {
      const stats = await lstat(join(real, entry.name))
      const type = stats.isFile()
        ? 'file'
        : stats.isDirectory()
          ? 'directory'
          : stats.isSymbolicLink()
            ? 'symlink'
            : 'other'
      out.push({ name: entry.name, type, size: stats.size })
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  /** The path joined to the root, refusing absolute paths and `..` before touching the disk. */
  private lexical(path: unknown): string {
    if (typeof path !== 'string' || path === '')
      throw new FileOperationError(`path: expected a non-empty string`)
    if (path.includes('\0')) throw new PathOutsideWorkDirError(path, 'it contains a NUL byte')
    if (isAbsolute(path)) throw new PathOutsideWorkDirError(path, 'absolute paths are not allowed')
    if (path.split(/[\\/]/).includes('..')) throw new PathOutsideWorkDirError(path, "'..' is not allowed")
    return join(this.root, path)
  }

  /** The real path of an existing entry, which must lie inside the real root. */
  private async existing(path: string): Promise<string> {
    const target = this.lexical(path)
    const real = await realpath(target).catch((err: unknown) => {
      throw fileError('resolve', path, err)
    })
    await this.assertInside(real, path)
    return real
  }

  private async ensureParent(target: string, path: string): Promise<string> {
    const parent = target.slice(0, target.lastIndexOf(sep))
    // Find the deepest existing ancestor, check it, then create the rest below it.
    let existing = parent
    while (!(await exists(existing))) existing = existing.slice(0, existing.lastIndexOf(sep))
    const realExisting = await realpath(existing)
    await this.assertInside(realExisting, path)
    const rest = relative(existing, parent)
    if (rest === '') return realExisting
    const created = join(realExisting, rest)
    await mkdir(created, { recursive: true, mode: 0o700 })
    return created
  }

  private async assertInside(real: string, path: string): Promise<void> {
    this.realRoot ??= await realpath(this.root)
    if (real !== this.realRoot && !real.startsWith(this.realRoot + sep)) {
      throw new PathOutsideWorkDirError(path, 'it resolves (through a symlink) outside')
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  )
}

function fileError(operation: string, path: string, err: unknown): FileOperationError {
  const code = (err as { code?: string }).code
  const reason =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EISDIR'
        ? 'is a directory'
        : String(code ?? err)
  return new FileOperationError(`${operation} ${JSON.stringify(path)}: ${reason}`, { cause: err })
}
