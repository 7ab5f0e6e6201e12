import { afterAll } from "bun:test";
import { killAllServices } from "../../deploy/stack/service";

// Preloaded (bunfig.toml): after the last test file, no worker process outlives the run.
afterAll(killAllServices);
