/**
 * The schema registry, read through its Confluent-compatible API (Apicurio's `ccompat`): the
 * writer's schema of an Avro message, by the id the message carries. An id never changes meaning,
 * so each is fetched once per process; a failed fetch is not kept.
 */

/** The registry could not be asked (down, unreachable, answering 5xx): an outage, retried. */
export class RegistryUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RegistryUnavailable";
  }
}

/** The registry holds no schema of this id (or no Avro one): the message cannot be decoded. */
export class UnknownSchema extends Error {
  constructor(readonly id: number, why = "is not in the registry") {
    super(`schema id ${id} ${why}`);
    this.name = "UnknownSchema";
  }
}

export function createSchemaRegistry(ccompatUrl: string, { timeoutMs = 5000 }: { timeoutMs?: number } = {}) {
  const schemas = new Map<number, Promise<string>>();

  async function fetchSchema(id: number): Promise<string> {
    let res: Response;
    try {
      res = await fetch(`${ccompatUrl}/schemas/ids/${id}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new RegistryUnavailable(`schema registry unreachable: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 404) throw new UnknownSchema(id);
    if (!res.ok) throw new RegistryUnavailable(`schema registry answered ${res.status} for schema id ${id}`);
    const body = (await res.json().catch(() => ({}))) as { schema?: unknown; schemaType?: string };
    if (typeof body.schema !== "string") throw new RegistryUnavailable(`schema registry answered without a schema for id ${id}`);
    if (body.schemaType && body.schemaType !== "AVRO") throw new UnknownSchema(id, `is a ${body.schemaType} schema, not Avro`);
    return body.schema;
  }

  return {
    /** The schema (its JSON text) of `id`. Throws UnknownSchema or RegistryUnavailable. */
    schema(id: number): Promise<string> {
      let found = schemas.get(id);
      if (!found) {
        found = fetchSchema(id);
        schemas.set(id, found);
        found.catch(() => schemas.delete(id));
      }
      return found;
    },
  };
}
