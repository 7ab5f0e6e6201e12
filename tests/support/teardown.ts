import { afterAll } from "bun:test";
import { killAllWorkers } from "./pipeline";

// Preloaded (bunfig.toml): after the last test file, no worker process outlives the run.
afterAll(killAllWorkers);
