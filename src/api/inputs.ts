import { z } from "zod";

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

/** Text a person wrote: trimmed, not blank, bounded, no NUL (PostgreSQL text cannot hold it). */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL characters");

/** An idempotency key in the input, as an alternative to the Idempotency-Key header. */
export const idempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{8,128}$/, "must be 8 to 128 characters of letters, digits, _ . : -")
  .optional();
