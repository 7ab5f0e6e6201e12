/**
 * The Kafka Connect REST API, as far as feedline uses it: a connector's status, the restarts a
 * supervisor may ask for, and its removal (the stack tool's test namespaces). Every call is
 * bounded by a timeout.
 */
export interface ConnectorStatus {
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

export function createConnectClient(url: string, connector: string, timeoutMs = 3000) {
  /** One request; undefined when the connector is not registered (404) and `missingOk`. */
  const call = async (method: "GET" | "POST" | "PUT" | "DELETE", path: string, missingOk = false) => {
    const res = await fetch(url + path, { method, signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 404 && missingOk) return undefined;
    if (!res.ok && res.status !== 204) throw new Error(`${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return res;
  };
  return {
    connector,
    /** The connector's and its tasks' states, or undefined when the connector is not registered. */
    async status(): Promise<ConnectorStatus | undefined> {
      const res = await call("GET", `/connectors/${connector}/status`, true);
      return res && ((await res.json()) as ConnectorStatus);
    },
    /** Restarts the connector and those of its tasks that are FAILED (Connect 3.0+, KIP-745). */
    restartFailed: () => call("POST", `/connectors/${connector}/restart?includeTasks=true&onlyFailed=true`),
    /** Restarts one task: Connect stops the instance and starts a new one. */
    restartTask: (task: number) => call("POST", `/connectors/${connector}/tasks/${task}/restart`),
    /** Stops the connector and its tasks, keeping its config and offsets (state STOPPED; Connect 3.5+, KIP-875). */
    stop: () => call("PUT", `/connectors/${connector}/stop`),
    /** Deletes its source offsets; only a STOPPED connector's (Connect 3.6+, KIP-875). */
    deleteOffsets: () => call("DELETE", `/connectors/${connector}/offsets`),
    /** Deletes the connector; resolves to false when it was not registered. */
    remove: async () => (await call("DELETE", `/connectors/${connector}`, true)) !== undefined,
  };
}

export type ConnectClient = ReturnType<typeof createConnectClient>;

/** Throws unless the connector and every task are RUNNING, naming the states and the first trace line. */
export function assertRunning(connector: string, status: ConnectorStatus | undefined) {
  if (!status) throw new Error(`connector ${connector} is not registered`);
  if (status.tasks.length === 0 || [status.connector, ...status.tasks].some((p) => p.state !== "RUNNING")) {
    const trace = [status.connector, ...status.tasks].find((t) => t.trace)?.trace?.split("\n")[0];
    throw new Error(`connector ${connector} is ${describeStates(status)}${trace ? `: ${trace}` : ""}`);
  }
}

/** The connector's and its tasks' states, as `RUNNING/FAILED`. */
export function describeStates(status: ConnectorStatus) {
  return [status.connector.state, ...status.tasks.map((t) => t.state)].join("/") || "without tasks";
}
