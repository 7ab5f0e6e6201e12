/** A message that cannot be decoded, with the reason: it goes to the dead-letter topic, never retried. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}
