/** A failure the stack tool explains to the user; the CLI prints the message and exits non-zero. */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackError";
  }
}
