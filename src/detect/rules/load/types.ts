/**
 * Types shared by the three loading stages (read, collect, compile) and by the loader's callers.
 */
import type { Priority } from '../../../model/alert.js';
import type { Pred } from '../compile.js';
import type { SyscallFieldState } from '../fields/syscall.js';
import type { OutputTemplate } from '../output.js';
import type { RuleReader } from './read.js';

export interface RuleSource {
  /** A file name for messages. */
  name: string;
  content: string;
}

export interface LoadOptions {
  /** Skip rules that use unknown fields or fail to compile (one warning each) instead of stopping. */
  skipUnknown?: boolean;
  /** Only compile rules of these sources (default: all that Vigie provides). */
  sources?: string[];
  /** Disable rules by name (Falco's -D). */
  disable?: string[];
  /**
   * Reads the sources. Pass one reader to every load of a run that loads the same files again
   * (replays, evaluations, reloads): it keeps what it read. Default: a new reader for this load.
   */
  reader?: RuleReader;
}

export interface Position {
  file: string;
  line: number;
  col: number;
}

export class RuleLoadError extends Error {
  constructor(
    readonly where: Position,
    readonly detail: string,
    readonly item?: string,
  ) {
    super(`${where.file}:${where.line}:${where.col}: ${item ? `${item}: ` : ''}${detail}`);
  }
}

export interface LoadWarning {
  where: Position;
  item?: string;
  message: string;
}

export interface CompiledRule {
  name: string;
  desc: string;
  source: string;
  priority: Priority;
  tags: string[];
  output: OutputTemplate;
  pred: Pred;
  /** Index keys (evt.type for syscall, ka.verb for k8s_audit) the rule can match; null = all. */
  keys: Set<string> | null;
  /** Load order (Falco's rule order). */
  order: number;
  enabled: boolean;
  /** Loaded and evaluated on events. */
  active: boolean;
  /** Why it is not active. */
  reason?: string;
  /** Condition fields that Vigie cannot provide. */
  unprovided: string[];
  /** Output fields rendered as <NA> because Vigie cannot provide them. */
  outputUnprovided: string[];
  where: Position;
}

export interface LoadResult {
  rules: CompiledRule[];
  warnings: LoadWarning[];
  /** Rules skipped because of errors (only with skipUnknown). */
  skipped: { name: string; where: Position; reason: string }[];
  lists: Map<string, string[]>;
  macros: Map<string, string>;
  /** What the compiled syscall rules read besides the event (evt.num, set by the engine). */
  fieldState: SyscallFieldState;
}
