/**
 * The boot plan as a public value: {@linkcode planToJson} turns a {@linkcode Plan} (plus, optionally, the
 * protocol, entry point and entry registers) into JSON-safe data without the image bytes, so a VMM can log a
 * dry run or keep golden files; {@linkcode planFromJson} reads it back with every field checked; and
 * {@linkcode comparePlans} lists the differences between two plans, one line per field.
 *
 * JSON form (version 1):
 * ```
 * { "format": "linux-loader-plan", "version": 1, "protocol"?: string, "entry"?: number,
 *   "registers"?: { name: number }, "steps": [
 *     { "kind": "copy", "guestAddr", "length", "sourceOffset", "label" },   // image bytes stay in the image
 *     { "kind": "bytes", "guestAddr", "length", "hex" | "base64", "label" }, // literal bytes, encoded
 *     { "kind": "fill", "guestAddr", "length", "value", "label" } ] }
 * ```
 *
 * @module
 */

import { describeThrown, hex, PlanJsonError } from "./errors.ts";
import type { Plan, PlanStep } from "./plan.ts";

/**
 * The `format` of a plan's JSON form.
 *
 * @example
 * ```ts
 * import { PLAN_JSON_FORMAT, planToJson } from "@linux-loader/linux-loader";
 * console.log(planToJson({ steps: [] }).format === PLAN_JSON_FORMAT, PLAN_JSON_FORMAT); // true linux-loader-plan
 * ```
 */
export const PLAN_JSON_FORMAT = "linux-loader-plan";
/**
 * The `version` of a plan's JSON form this library writes and reads.
 *
 * @example
 * ```ts
 * import { PLAN_JSON_VERSION, planToJson } from "@linux-loader/linux-loader";
 * console.log(planToJson({ steps: [] }).version === PLAN_JSON_VERSION, PLAN_JSON_VERSION); // true 1
 * ```
 */
export const PLAN_JSON_VERSION = 1;

/** A plan with what the entry needs: the protocol, the entry point and the registers set at entry. */
export interface DescribedPlan extends Plan {
  /** Boot protocol, e.g. "multiboot", "multiboot2", "linux", "pvh". */
  protocol?: string;
  /** Guest address of the first instruction. */
  entry?: number;
  /** Registers the entry expects, by lower-case name (e.g. eax, ebx). */
  registers?: Record<string, number>;
}

/** A copy step in JSON. */
export interface CopyStepJson {
  /** Step kind. */
  kind: "copy";
  /** Destination guest address. */
  guestAddr: number;
  /** Byte count. */
  length: number;
  /** Offset in the image. */
  sourceOffset: number;
  /** What this is. */
  label: string;
}

/** A literal-bytes step in JSON: the bytes as `hex` or `base64`, with their length. */
export interface BytesStepJson {
  /** Step kind. */
  kind: "bytes";
  /** Destination guest address. */
  guestAddr: number;
  /** Byte count. */
  length: number;
  /** The bytes as lower-case hexadecimal. */
  hex?: string;
  /** The bytes as base64. */
  base64?: string;
  /** What this is. */
  label: string;
}

/** A fill step in JSON. */
export interface FillStepJson {
  /** Step kind. */
  kind: "fill";
  /** Destination guest address. */
  guestAddr: number;
  /** Byte count. */
  length: number;
  /** Byte value. */
  value: number;
  /** What this is. */
  label: string;
}

/** One step in JSON. */
export type PlanStepJson = CopyStepJson | BytesStepJson | FillStepJson;

/** A plan in JSON. */
export interface PlanJson {
  /** Always {@linkcode PLAN_JSON_FORMAT}. */
  format: typeof PLAN_JSON_FORMAT;
  /** Always {@linkcode PLAN_JSON_VERSION}. */
  version: typeof PLAN_JSON_VERSION;
  /** Boot protocol, if known. */
  protocol?: string;
  /** Entry point, if known. */
  entry?: number;
  /** Entry registers, if known. */
  registers?: Record<string, number>;
  /** The steps, in order. */
  steps: PlanStepJson[];
}

/** Options of {@linkcode planToJson}. */
export interface PlanToJsonOptions {
  /** How literal bytes are encoded. Default "hex". */
  bytes?: "hex" | "base64";
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function toBase64(b: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * The JSON-safe form of a plan: copies keep their source offset and length (the image bytes are not
 * included), literal bytes are encoded as hex (or base64) with their length, fills are kept as they are.
 *
 * @example
 * ```ts
 * import { planToJson } from "@linux-loader/linux-loader";
 * const json = planToJson({
 *   protocol: "multiboot",
 *   entry: 0x100020,
 *   steps: [{ kind: "bytes", guestAddr: 0x9000, bytes: new Uint8Array([1, 2]), label: "info" }],
 * });
 * console.log(JSON.stringify(json.steps[0])); // {"kind":"bytes","guestAddr":36864,"length":2,"hex":"0102","label":"info"}
 * ```
 */
export function planToJson(plan: DescribedPlan, opts: PlanToJsonOptions = {}): PlanJson {
  if (typeof plan !== "object" || plan === null || !Array.isArray(plan.steps)) {
    throw invalid("steps", "expected a plan with a steps array", plan);
  }
  // Key order is the reading order of a golden file: what it is, how it starts, then the writes.
  const head: Omit<PlanJson, "steps"> = { format: PLAN_JSON_FORMAT, version: PLAN_JSON_VERSION };
  if (plan.protocol !== undefined) head.protocol = plan.protocol;
  if (plan.entry !== undefined) head.entry = plan.entry;
  if (plan.registers !== undefined) head.registers = { ...plan.registers };
  const steps = plan.steps.map((s): PlanStepJson => {
    switch (s.kind) {
      case "copy":
        return { kind: "copy", guestAddr: s.guestAddr, length: s.length, sourceOffset: s.sourceOffset, label: s.label };
      case "fill":
        return { kind: "fill", guestAddr: s.guestAddr, length: s.length, value: s.value, label: s.label };
      case "bytes":
        return opts.bytes === "base64"
          ? {
            kind: "bytes",
            guestAddr: s.guestAddr,
            length: s.bytes.byteLength,
            base64: toBase64(s.bytes),
            label: s.label,
          }
          : { kind: "bytes", guestAddr: s.guestAddr, length: s.bytes.byteLength, hex: toHex(s.bytes), label: s.label };
    }
  });
  return { ...head, steps };
}

/**
 * A value as messages show it, in bounded time and stack: a string quoted and cut at 40 characters, a number or
 * other primitive as text, an array or object by its kind only (formatting a deeply nested array with
 * `String` recurses once per level and can overflow the stack).
 */
function shownValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object" && value !== null) return "an object";
  return describeThrown(value);
}

function invalid(path: string, what: string, value: unknown): PlanJsonError {
  const shown = shownValue(value);
  return new PlanJsonError("InvalidField", `${path}: ${what}, got ${shown}`, {
    field: path,
    value: typeof value === "number" || typeof value === "string" ? value : typeof value,
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function safeInt(o: Record<string, unknown>, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(`${path}.${key}`, "expected a non-negative safe integer", v);
  }
  return v;
}

function str(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== "string") throw invalid(`${path}.${key}`, "expected a string", v);
  return v;
}

function decodeHex(s: string, length: number, path: string): Uint8Array {
  if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2 !== 0) {
    throw new PlanJsonError("InvalidBytes", `${path}.hex is not an even number of hexadecimal digits`, {
      field: `${path}.hex`,
      value: s.length,
    });
  }
  if (s.length / 2 !== length) {
    throw new PlanJsonError("InvalidBytes", `${path}.hex holds ${s.length / 2} bytes but length is ${length}`, {
      field: `${path}.hex`,
      value: s.length / 2,
      limit: length,
    });
  }
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function decodeBase64(s: string, length: number, path: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch (e) {
    throw new PlanJsonError("InvalidBytes", `${path}.base64 is not base64`, { field: `${path}.base64`, cause: e });
  }
  if (bin.length !== length) {
    throw new PlanJsonError("InvalidBytes", `${path}.base64 holds ${bin.length} bytes but length is ${length}`, {
      field: `${path}.base64`,
      value: bin.length,
      limit: length,
    });
  }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function stepFromJson(v: unknown, path: string): PlanStep {
  if (!isRecord(v)) throw invalid(path, "expected an object", v);
  const kind = v.kind;
  const guestAddr = safeInt(v, "guestAddr", path);
  const length = safeInt(v, "length", path);
  const label = str(v, "label", path);
  switch (kind) {
    case "copy":
      return { kind, guestAddr, length, sourceOffset: safeInt(v, "sourceOffset", path), label };
    case "fill": {
      const value = v.value;
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 255) {
        throw invalid(`${path}.value`, "expected a byte value 0-255", value);
      }
      return { kind, guestAddr, length, value, label };
    }
    case "bytes": {
      const hasHex = v.hex !== undefined, has64 = v.base64 !== undefined;
      if (hasHex === has64) throw invalid(path, "expected exactly one of hex and base64", hasHex ? "both" : "neither");
      const bytes = hasHex
        ? decodeHex(str(v, "hex", path), length, path)
        : decodeBase64(str(v, "base64", path), length, path);
      return { kind, guestAddr, bytes, label };
    }
    default:
      throw invalid(`${path}.kind`, `expected "copy", "bytes" or "fill"`, kind);
  }
}

/**
 * Reads a plan back from its JSON form (a string or parsed data), checking every field. Errors:
 * {@linkcode PlanJsonError} `MalformedJson`, `UnsupportedVersion`, `InvalidField` (naming the field's path,
 * e.g. `steps[2].guestAddr`), `InvalidBytes`.
 *
 * @example
 * ```ts
 * import { planFromJson, planToJson } from "@linux-loader/linux-loader";
 * const plan = { steps: [{ kind: "fill" as const, guestAddr: 0x1000, length: 16, value: 0, label: "bss" }] };
 * const back = planFromJson(JSON.stringify(planToJson(plan)));
 * console.log(back.steps[0].label); // bss
 * ```
 */
export function planFromJson(json: unknown): DescribedPlan {
  let v = json;
  if (typeof json === "string") {
    try {
      v = JSON.parse(json);
    } catch (e) {
      // A RangeError here is JSON.parse running out of stack on deep nesting: malformed for our purposes.
      throw new PlanJsonError("MalformedJson", `not JSON: ${describeThrown(e)}`, { cause: e });
    }
  }
  if (!isRecord(v)) throw invalid("plan", "expected an object", v);
  if (v.format !== PLAN_JSON_FORMAT) {
    throw new PlanJsonError(
      "UnsupportedVersion",
      `format is ${shownValue(v.format)}, expected ${JSON.stringify(PLAN_JSON_FORMAT)}`,
      { field: "format", value: shownValue(v.format), limit: PLAN_JSON_FORMAT },
    );
  }
  if (v.version !== PLAN_JSON_VERSION) {
    throw new PlanJsonError(
      "UnsupportedVersion",
      `version is ${shownValue(v.version)}, expected ${PLAN_JSON_VERSION}`,
      {
        field: "version",
        value: shownValue(v.version),
        limit: PLAN_JSON_VERSION,
      },
    );
  }
  if (!Array.isArray(v.steps)) throw invalid("steps", "expected an array", v.steps);
  const out: DescribedPlan = { steps: v.steps.map((s, i) => stepFromJson(s, `steps[${i}]`)) };
  if (v.protocol !== undefined) out.protocol = str(v, "protocol", "plan");
  if (v.entry !== undefined) out.entry = safeInt(v, "entry", "plan");
  if (v.registers !== undefined) {
    const r = v.registers;
    if (!isRecord(r)) throw invalid("registers", "expected an object", r);
    out.registers = {};
    for (const k of Object.keys(r)) out.registers[k] = safeInt(r, k, "registers");
  }
  return out;
}

/** One difference between two plans. */
export interface PlanDifference {
  /** Where: "entry", "registers.ebx", "steps.length", "steps[3].guestAddr", "steps[1].bytes[17]". */
  path: string;
  /** The first plan's value, printed. */
  a: string;
  /** The second plan's value, printed. */
  b: string;
}

function show(v: unknown): string {
  if (v === undefined) return "(none)";
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 16 ? hex(v) : String(v);
  return JSON.stringify(v);
}

/**
 * The differences between two plans, field by field (protocol, entry, registers, then each step's kind,
 * address, length, label, source offset, value and bytes; for bytes the first differing index). An empty
 * list means the plans do the same writes.
 *
 * @example
 * ```ts
 * import { comparePlans } from "@linux-loader/linux-loader";
 * const a = { entry: 0x100000, steps: [] };
 * const b = { entry: 0x100020, steps: [] };
 * console.log(comparePlans(a, b)); // [ { path: "entry", a: "0x100000", b: "0x100020" } ]
 * ```
 */
export function comparePlans(a: DescribedPlan, b: DescribedPlan): PlanDifference[] {
  for (const [name, p] of [["a", a], ["b", b]] as const) {
    if (typeof p !== "object" || p === null || !Array.isArray(p.steps)) {
      throw invalid(name, "expected a plan with a steps array", p);
    }
  }
  const out: PlanDifference[] = [];
  const diff = (path: string, x: unknown, y: unknown): void => {
    if (x !== y) out.push({ path, a: show(x), b: show(y) });
  };
  diff("protocol", a.protocol, b.protocol);
  diff("entry", a.entry, b.entry);
  const regs = new Set([...Object.keys(a.registers ?? {}), ...Object.keys(b.registers ?? {})]);
  for (const r of [...regs].sort()) diff(`registers.${r}`, a.registers?.[r], b.registers?.[r]);
  diff("steps.length", a.steps.length, b.steps.length);
  const n = Math.min(a.steps.length, b.steps.length);
  for (let i = 0; i < n; i++) {
    const s = a.steps[i], t = b.steps[i], p = `steps[${i}]`;
    diff(`${p}.kind`, s.kind, t.kind);
    diff(`${p}.guestAddr`, s.guestAddr, t.guestAddr);
    diff(`${p}.label`, s.label, t.label);
    if (s.kind === "bytes" && t.kind === "bytes") {
      diff(`${p}.length`, s.bytes.byteLength, t.bytes.byteLength);
      const m = Math.min(s.bytes.byteLength, t.bytes.byteLength);
      for (let j = 0; j < m; j++) {
        if (s.bytes[j] !== t.bytes[j]) {
          out.push({ path: `${p}.bytes[${j}]`, a: `0x${s.bytes[j].toString(16)}`, b: `0x${t.bytes[j].toString(16)}` });
          break;
        }
      }
    } else if (s.kind !== "bytes" && t.kind !== "bytes") {
      diff(`${p}.length`, s.length, t.length);
      if (s.kind === "copy" && t.kind === "copy") diff(`${p}.sourceOffset`, s.sourceOffset, t.sourceOffset);
      if (s.kind === "fill" && t.kind === "fill") diff(`${p}.value`, s.value, t.value);
    }
  }
  return out;
}
