import { describe, expect, test } from "bun:test";
import { histogramDelta, parseMetrics } from "../../bench/pipeline";
import { markdownTable, parseWrk, percentile, statusLine, summarize } from "../../bench/support";
import { createMetrics } from "../../src/metrics";

describe("benchmark arithmetic", () => {
  test("percentiles are nearest-rank on the sorted sample", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(summarize([3, 1, 2])).toMatchObject({ n: 3, "p50 ms": "2.00", "max ms": "3.00" });
  });

  test("wrk's report is read back: requests, rate, percentiles in ms whatever the unit, and every kind of error", () => {
    const out = `Running 10s test @ http://127.0.0.1:3100/trpc/feed.home
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    2.01ms  40.10ms   68.50%
  Latency Distribution
     50%  853.00us
     75%    5.00ms
     90%    7.00ms
     99%    1.20s
  61234 requests in 10.00s, 80.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:   6123.40
Transfer/sec:      8.00MB
`;
    expect(parseWrk(out)).toEqual({ requests: 61234, perSecond: 6123.4, p50: 0.853, p99: 1200, errors: 10 });
    expect(() => parseWrk("0 requests in 10.00s")).toThrow(/measured nothing/);
  });

  test("a table has a header, a rule and one line per row", () => {
    expect(markdownTable([{ a: 1, b: "x" }, { a: 2, b: "y" }])).toBe("| a | b |\n|---|---|\n| 1 | x |\n| 2 | y |");
  });

  test("a table shows every row's columns, a later row's too, and leaves the others' cells empty", () => {
    expect(markdownTable([{ a: 1 }, { a: 2, b: "y" }])).toBe("| a | b |\n|---|---|\n| 1 |  |\n| 2 | y |");
  });

  test("metrics read back from the text format: sums by label, histogram deltas and bucket quantiles", async () => {
    const m = createMetrics();
    const c = m.counter("writes_total", "W.");
    const h = m.histogram("stage_seconds", "S.", [0.01, 0.1, 1]);
    c.inc({ stage: "router" }, 5);
    c.inc({ stage: "feeds" }, 7);
    h.observe(0.5, { stage: "write" }); // before the window: must not count
    const before = parseMetrics(await m.render());
    for (let i = 0; i < 98; i++) h.observe(0.005, { stage: "write" });
    h.observe(0.05, { stage: "write" });
    h.observe(0.5, { stage: "write" });
    h.observe(0.2, { stage: "route" });
    const after = parseMetrics(await m.render());

    expect(after.sum("writes_total")).toBe(12);
    expect(after.sum("writes_total", { stage: "feeds" })).toBe(7);
    const d = histogramDelta(before, after, "stage_seconds", { stage: "write" });
    expect(d.count).toBe(100);
    expect(d.mean).toBeCloseTo((98 * 0.005 + 0.05 + 0.5) / 100, 10);
    expect(d.p50).toBe(0.01);
    expect(d.p99).toBe(0.1);
    expect(histogramDelta(before, after, "stage_seconds", { stage: "route" }).p50).toBe(1);
  });
});

describe("status lines", () => {
  test("off a terminal: a plain line at most every 10 s and the last one at the end, no carriage returns", () => {
    const written: string[] = [];
    const write = process.stderr.write;
    const tty = process.stderr.isTTY;
    process.stderr.isTTY = false;
    process.stderr.write = ((chunk: string) => (written.push(chunk), true)) as typeof process.stderr.write;
    try {
      const line = statusLine();
      for (let i = 1; i <= 1000; i++) line.update(`${i}/1000`);
      line.done();
    } finally {
      process.stderr.write = write;
      process.stderr.isTTY = tty;
    }
    expect(written).toEqual(["  1/1000\n", "  1000/1000\n"]);
  });
});
