import { z } from "zod";
import { AppError } from "../errors";

/**
 * Input pieces shared by the routers, with the bounds a client can rely on. Routers use strict
 * objects: an unknown field (an `authorId` smuggled into a post, say) is an error, not ignored.
 */

/** A bigint identity as a string: 1 to 9223372036854775807. */
export const id = z
  .string()
  .regex(/^[1-9]\d{0,18}$/, "must be a positive integer id, as a string")
  .refine((s) => !/^\d{19}$/.test(s) || BigInt(s) <= 9223372036854775807n, "is out of range");

export const handle = z.string().regex(/^[a-z0-9_]{3,30}$/, "must be 3 to 30 lowercase letters, digits or underscores");

/**
 * Characters text may not hold: C0 and C1 controls (NUL, ESC and the rest; tab and line feed only
 * where `lines` allows them), DEL, and the bidirectional embeddings, overrides and isolates that
 * can make a feed item read differently from what it says (U+202A–U+202E, U+2066–U+2069).
 */
const forbidden = (lines: boolean) => (lines ? /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/ : /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/);

/**
 * Text a person wrote, as it is stored: Unicode NFC, CRLF as LF, trimmed; then not blank, at most
 * `max` characters (counted on that stored form), well-formed (no lone surrogates) and free of
 * the forbidden characters above. `lines`: whether line breaks and tabs are allowed (bodies).
 */
export const text = (max: number, opts: { lines?: boolean } = {}) =>
  z
    .string()
    .transform((s) => s.normalize("NFC").replace(/\r\n?/g, "\n").trim())
    .pipe(
      z
        .string()
        .min(1, "must not be empty")
        .max(max, `must be at most ${max} characters`)
        .refine((s) => s.isWellFormed(), "must be valid Unicode (no lone surrogates)")
        .refine((s) => !forbidden(opts.lines ?? false).test(s), opts.lines ? "must not contain control characters or bidirectional overrides" : "must not contain line breaks, control characters or bidirectional overrides"),
    );

const keyRule = (min: number) => z.string().regex(new RegExp(`^[A-Za-z0-9_.:-]{${min},128}$`), `must be ${min} to 128 characters of letters, digits, _ . : -`);

/** An idempotency key in the input, as an alternative to the Idempotency-Key header (the same rule applies to both). */
export const idempotencyKey = keyRule(8).optional();

/**
 * A sign-up's idempotency key: a replay within its short life returns the account with a fresh
 * token, so the key is a credential while it lives and must be random (a UUID, 32+ characters).
 */
export const signupKey = keyRule(32).optional();

/**
 * The call's idempotency key: the input's, else the Idempotency-Key header checked by the same
 * rule (a bad header is INVALID_INPUT, as a bad field is, and nothing is written).
 */
export function idempotencyKeyOf(header: string | undefined, field: string | undefined, rule: z.ZodType<string | undefined> = idempotencyKey) {
  if (field !== undefined || header === undefined) return field;
  const checked = rule.safeParse(header);
  if (!checked.success) throw new AppError("INVALID_INPUT", `Idempotency-Key header: ${checked.error.issues[0]!.message}`);
  return checked.data;
}

/** A page's size and the cursor it starts after. */
export const page = { limit: z.number().int().min(1).max(100).default(20), cursor: z.string().max(512).nullish() };
