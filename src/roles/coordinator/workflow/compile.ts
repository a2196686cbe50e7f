/**
 * Compiling a workflow document: read and check every definition once (the main one, its library,
 * inline and named compositions), detect recursive composition, then expand composed workflows in
 * place into one immutable step list in topological order.
 *
 * Composition is expanded rather than run as a child run so that the whole run stays one CRDT:
 * any coordinator can take it over from the replicated state alone, with no parent/child runs to
 * keep consistent.
 */

import { isPlainObject } from '../../../protocols/state/json-value.js'
import { DEFAULT_MAX_STEPS, DEFAULT_RUNNER_KINDS, MAX_COMPOSITION_DEPTH } from './constants.js'
import { type DefinitionContext, type DefinitionDraft, type DraftStep, readDefinition } from './definition.js'
import { type WorkflowIssue, WorkflowValidationError } from './errors.js'
import type { Expression } from './expression.js'
import { byDocumentOrder, Issues, pathKey } from './issues.js'
import { parseWorkflowText, type WorkflowFormat } from './load.js'
import { suggest } from './suggest.js'
import type { CompiledStep, CompiledWorkflow, WorkflowDefinition, WorkflowDocument } from './types.js'

export interface CompileOptions {
  /** Runner kinds steps may use. @default ['hero', 'sal', 'osiris'] */
  readonly runners?: Iterable<string>
  /** Looks up a workflow a step names that the document's `workflows` library lacks. */
  readonly resolve?: (name: string) => unknown
  /** Most steps after expanding compositions. @default 1_000_000 */
  readonly maxSteps?: number
}

type Color = 'visiting' | 'done'

class Compiler {
  readonly issues = new Issues()
  readonly ctx: DefinitionContext
  readonly #library: Record<string, unknown>
  readonly #resolve: ((name: string) => unknown) | undefined
  readonly named = new Map<string, DefinitionDraft | undefined>()
  readonly #inline = new WeakMap<object, DefinitionDraft | undefined>()
  readonly #children = new Map<DraftStep, DefinitionDraft>()
  readonly #color = new Map<DefinitionDraft, Color>()

  constructor(library: Record<string, unknown>, options: CompileOptions) {
    this.ctx = { runners: new Set(options.runners ?? DEFAULT_RUNNER_KINDS), issues: this.issues }
    this.#library = library
    this.#resolve = options.resolve
  }

  child(step: DraftStep): DefinitionDraft | undefined {
    return this.#children.get(step)
  }

  /** The draft of a named workflow (library first, then `resolve`), read once. */
  namedDraft(name: string): DefinitionDraft | undefined {
    if (this.named.has(name)) return this.named.get(name)
    const raw = Object.hasOwn(this.#library, name) ? this.#library[name] : this.#resolve?.(name)
    const draft = raw === undefined ? undefined : readDefinition(raw, pathKey('workflows', name), this.ctx)
    this.named.set(name, draft)
    return draft
  }

  /** Resolves every composition below `draft` (depth-first, detecting recursion by name). */
  link(draft: DefinitionDraft, chain: readonly string[]): void {
    if (this.#color.get(draft) === 'done') return
    this.#color.set(draft, 'visiting')
    for (const step of draft.steps) {
      const ref = step.child
      if (ref === undefined) continue
      if (chain.length >= MAX_COMPOSITION_DEPTH) {
        this.issues.add(ref.path, `compositions nested deeper than ${MAX_COMPOSITION_DEPTH} levels`)
        continue
      }
      const child =
        ref.name !== undefined ? this.namedDraft(ref.name) : this.#inlineDraft(ref.inline as object, ref.path)
      if (child === undefined) {
        if (ref.name !== undefined) {
          const known = Object.keys(this.#library)
          this.issues.add(ref.path, `unknown workflow "${ref.name}"${suggest(ref.name, known)}`)
        }
        continue
      }
      const label = ref.name ?? `(inline ${child.name})`
      if (this.#color.get(child) === 'visiting') {
        const start = chain.lastIndexOf(label)
        this.issues.add(
          ref.path,
          `recursive composition: ${[...chain.slice(Math.max(start, 0)), label].join(' → ')}`,
        )
        continue
      }
      this.#children.set(step, child)
      this.#checkBindings(step, child)
      this.#checkComposable(ref.path, child)
      this.link(child, [...chain, label])
    }
    this.#color.set(draft, 'done')
  }

  #inlineDraft(raw: object, path: string): DefinitionDraft | undefined {
    if (!this.#inline.has(raw)) this.#inline.set(raw, readDefinition(raw, path, this.ctx))
    return this.#inline.get(raw)
  }

  /** `on_failure` and `timeout` belong to a run: a composed workflow cannot bring its own. */
  #checkComposable(path: string, child: DefinitionDraft): void {
    const runOnly = [
      ...(child.handlers.length > 0 ? ['on_failure'] : []),
      ...(child.timeoutMs !== undefined ? ['timeout'] : []),
    ]
    if (runOnly.length > 0)
      this.issues.add(
        path,
        `workflow "${child.name}" has ${runOnly.join(' and ')}, which only apply to the workflow a run starts`,
      )
  }

  #checkBindings(step: DraftStep, child: DefinitionDraft): void {
    const at = pathKey(step.path, 'with')
    for (const name of step.with.keys()) {
      if (!child.inputs.has(name)) {
        this.issues.add(
          pathKey(at, name),
          `unknown input "${name}" of workflow "${child.name}"${suggest(name, child.inputs.keys())}`,
        )
      }
    }
    for (const [name, spec] of child.inputs) {
      if (spec.required && !step.with.has(name))
        this.issues.add(at, `missing required input "${name}" of workflow "${child.name}"`)
    }
  }

  /** Steps after expansion, without building them (to refuse exponential documents cheaply). */
  size(draft: DefinitionDraft, memo = new Map<DefinitionDraft, number>()): number {
    const known = memo.get(draft)
    if (known !== undefined) return known
    let total = draft.handlers.length
    for (const step of draft.steps) {
      const child = this.#children.get(step)
      total += 1 + (child === undefined ? 0 : this.size(child, memo))
    }
    memo.set(draft, total)
    return total
  }
}

interface MutableStep extends Omit<CompiledStep, 'scope' | 'dependents'> {
  scope: number
  dependents: number[]
}

const EMPTY_MAP: ReadonlyMap<unknown, unknown> = new Map()
// One shared empty map for the many job steps (no children, bindings or outputs).
const emptyMap = <K, V>(): ReadonlyMap<K, V> => EMPTY_MAP as ReadonlyMap<K, V>

/** Appends the steps of `draft` (children before their workflow step) and returns local id → index. */
function expand(
  compiler: Compiler,
  draft: DefinitionDraft,
  prefix: string,
  out: MutableStep[],
): Map<string, number> {
  const ids = new Map<string, number>()
  appendSteps(compiler, draft.steps, draft.order, prefix, out, ids, false)
  // Only the workflow a run starts has handlers (a composed one with handlers does not compile).
  if (prefix === '') appendSteps(compiler, draft.handlers, draft.handlerOrder, prefix, out, ids, true)
  return ids
}

function appendSteps(
  compiler: Compiler,
  steps: readonly DraftStep[],
  order: readonly number[],
  prefix: string,
  out: MutableStep[],
  ids: Map<string, number>,
  onFailure: boolean,
): void {
  const local = new Array<number>(steps.length)
  for (const i of order) {
    const s = steps[i] as DraftStep
    const id = prefix === '' ? s.localId : `${prefix}.${s.localId}`
    const child = compiler.child(s)
    const children: ReadonlyMap<string, number> =
      child === undefined ? emptyMap<string, number>() : expand(compiler, child, id, out)
    const index = out.length
    for (const c of children.values()) (out[c] as MutableStep).scope = index
    out.push({
      index,
      id,
      localId: s.localId,
      path: s.path,
      kind: s.kind,
      runner: s.runner,
      payload: s.payload,
      deps: s.deps.map((d) => local[d] as number),
      dependents: [],
      scope: -1,
      retry: s.retry,
      timeoutMs: s.timeoutMs,
      when: s.when,
      continueOnFailure: s.continueOnFailure,
      triggerRule: s.triggerRule,
      forEach: s.forEach,
      maxParallel: s.maxParallel,
      sleepMs: s.sleepMs,
      signal: s.signal,
      env: s.env,
      onFailure,
      secrets: s.secrets,
      workflowName: child?.name,
      children,
      with: s.with,
      childInputs: child?.inputs ?? emptyMap(),
      outputs: child?.outputs ?? emptyMap<string, Expression>(),
    })
    local[i] = index
    ids.set(s.localId, index)
  }
}

function freeze(
  main: DefinitionDraft,
  source: WorkflowDocument,
  steps: MutableStep[],
  topLevel: Map<string, number>,
) {
  const byId = new Map<string, CompiledStep>()
  const dependents = new Map<string, readonly string[]>()
  const handlers: number[] = []
  const signals = new Set<string>()
  for (const step of steps) for (const d of step.deps) (steps[d] as MutableStep).dependents.push(step.index)
  for (const step of steps) {
    // Step objects are frozen; their index arrays are typed readonly (freezing 2×100k arrays costs more than it protects).
    byId.set(step.id, Object.freeze(step))
    if (step.onFailure) handlers.push(step.index)
    if (step.signal !== undefined) signals.add(step.signal)
    if (step.dependents.length > 0)
      dependents.set(
        step.id,
        step.dependents.map((i) => (steps[i] as MutableStep).id),
      )
  }
  const compiled: CompiledWorkflow = {
    name: main.name,
    source,
    steps: Object.freeze(steps as CompiledStep[]),
    byId,
    dependents,
    topLevel,
    inputs: main.inputs,
    outputs: main.outputs,
    timeoutMs: main.timeoutMs,
    handlers,
    signals,
  }
  return Object.freeze(compiled)
}

/** All problems of a document (empty when it compiles). */
export function validateWorkflow(document: unknown, options: CompileOptions = {}): readonly WorkflowIssue[] {
  try {
    compileWorkflow(document, options)
    return []
  } catch (err) {
    if (err instanceof WorkflowValidationError) return err.issues
    throw err
  }
}

/**
 * Validates and compiles a document (`{ workflow, workflows? }`, as parsed from YAML or JSON).
 * Throws `WorkflowValidationError` listing every problem. Linear in the document's size.
 */
export function compileWorkflow(document: unknown, options: CompileOptions = {}): CompiledWorkflow {
  const top = new Issues()
  if (!isPlainObject(document)) {
    top.expected('', 'a document { workflow: { name, steps } }', document)
    throw new WorkflowValidationError(top.list)
  }
  for (const key of Object.keys(document)) {
    if (key !== 'workflow' && key !== 'workflows')
      top.add(key, 'unknown field (expected workflow, or workflows)')
  }
  const library = document.workflows === undefined ? {} : document.workflows
  if (!isPlainObject(library)) top.expected('workflows', 'an object of workflow name → definition', library)
  const compiler = new Compiler(isPlainObject(library) ? library : {}, options)
  compiler.issues.list.push(...top.list)
  const main = readDefinition(document.workflow, 'workflow', compiler.ctx)
  if (isPlainObject(library)) for (const name of Object.keys(library)) compiler.namedDraft(name)
  if (main !== undefined) compiler.link(main, [main.name])
  for (const draft of compiler.named.values()) if (draft !== undefined) compiler.link(draft, [draft.name])
  if (compiler.issues.size > 0 || main === undefined) {
    throw new WorkflowValidationError(compiler.issues.list.sort(byDocumentOrder))
  }

  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS
  const size = compiler.size(main)
  if (size > maxSteps) {
    throw new WorkflowValidationError([
      { path: 'workflow', message: `expands to ${size} steps (at most ${maxSteps} allowed)` },
    ])
  }
  const steps: MutableStep[] = []
  const topLevel = expand(compiler, main, '', steps)
  const workflows: Record<string, WorkflowDefinition> = {}
  for (const [name, draft] of compiler.named) if (draft !== undefined) workflows[name] = draft.raw
  const source: WorkflowDocument =
    compiler.named.size === 0 ? { workflow: main.raw } : { workflow: main.raw, workflows }
  return freeze(main, source, steps, topLevel)
}

/** Parses YAML or JSON text and compiles it. */
export function loadWorkflow(
  text: string,
  options: CompileOptions & { readonly format?: WorkflowFormat } = {},
) {
  return compileWorkflow(parseWorkflowText(text, options.format), options)
}
