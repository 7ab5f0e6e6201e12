import { describe, expect, test } from "bun:test";
import { createMetrics } from "../src/metrics";

describe("metrics", () => {
  test("renders counters, gauges and histograms in Prometheus text format", async () => {
    const m = createMetrics();
    m.counter("events_total", "Events.").inc({ topic: "a" }, 2);
    m.counter("events_total", "Events.").inc({ topic: "a" });
    m.gauge("lag", "Lag.").set({ partition: "0" }, 7);
    const h = m.histogram("fresh_seconds", "Freshness.", [0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(3);
    const text = await m.render();
    expect(text).toContain('# TYPE events_total counter\nevents_total{topic="a"} 3');
    expect(text).toContain('lag{partition="0"} 7');
    expect(text).toContain('fresh_seconds_bucket{le="0.1"} 1\nfresh_seconds_bucket{le="1"} 2\nfresh_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain("fresh_seconds_count 3");
  });

  test("collectors refresh gauges at scrape time, and a failing one does not break the scrape", async () => {
    const m = createMetrics();
    const g = m.gauge("lag", "Lag.");
    let n = 0;
    m.collect(async () => g.set({}, ++n));
    m.collect(async () => {
      throw new Error("broker down");
    });
    expect(await m.render()).toContain("lag 1");
    expect(await m.render()).toContain("lag 2");
  });
});
