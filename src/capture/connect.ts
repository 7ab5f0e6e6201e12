/**
 * The Kafka Connect REST API, as far as feedline uses it: a connector's status and the restarts
 * a supervisor may ask for. Every call is bounded by a timeout.
 */
export interface ConnectorStatus {
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

export function createConnectClient(url: string, connector: string, timeoutMs = 3000) {
  const call = async (method: "GET" | "POST", path: string) => {
    const res = await fetch(url + path, { method, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok && res.status !== 204) throw new Error(`${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return res;
  };
  return {
    connector,
    /** The connector's and its tasks' states, or undefined when the connector is not registered. */
    async status(): Promise<ConnectorStatus | undefined> {
      const res = await fetch(`${url}/connectors/${connector}/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`GET /connectors/${connector}/status answered ${res.status}`);
      return (await res.json()) as ConnectorStatus;
    },
    /** Restarts the connector and those of its tasks that are FAILED (Connect 3.0+, KIP-745). */
    restartFailed: () => call("POST", `/connectors/${connector}/restart?includeTasks=true&onlyFailed=true`),
    /** Restarts one task: Connect stops the instance and starts a new one. */
    restartTask: (task: number) => call("POST", `/connectors/${connector}/tasks/${task}/restart`),
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
