/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and histograms
 * with labels, plus collectors that refresh gauges at scrape time (consumer lag).
 */
type Labels = Record<string, string>;
const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());
const render = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "\\$&")}"`).join(",")}}`;
};

export function createMetrics() {
  const families: { name: string; help: string; type: string; lines: () => string[] }[] = [];
  const collectors: (() => Promise<void>)[] = [];
  const made = new Map<string, unknown>();
  /** The same name asked twice gives the same metric (router and worker share counters). */
  const once = <T>(name: string, make: () => T): T => {
    if (!made.has(name)) made.set(name, make());
    return made.get(name) as T;
  };

  function counter(name: string, help: string) {
    return once(name, () => makeCounter(name, help));
  }

  function makeCounter(name: string, help: string) {
    const values = new Map<string, { labels: Labels; value: number }>();
    families.push({ name, help, type: "counter", lines: () => [...values.values()].map((v) => `${name}${render(v.labels)} ${v.value}`) });
    return {
      inc(labels: Labels = {}, by = 1) {
        const k = key(labels);
        const v = values.get(k) ?? { labels, value: 0 };
        v.value += by;
        values.set(k, v);
      },
    };
  }

  function gauge(name: string, help: string) {
    return once(name, () => makeGauge(name, help));
  }

  function makeGauge(name: string, help: string) {
    const values = new Map<string, { labels: Labels; value: number }>();
    families.push({ name, help, type: "gauge", lines: () => [...values.values()].map((v) => `${name}${render(v.labels)} ${v.value}`) });
    return {
      set(labels: Labels, value: number) {
        values.set(key(labels), { labels, value });
      },
    };
  }

  function histogram(name: string, help: string, buckets: number[]) {
    return once(name, () => makeHistogram(name, help, buckets));
  }

  function makeHistogram(name: string, help: string, buckets: number[]) {
    const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
    families.push({
      name,
      help,
      type: "histogram",
      lines: () =>
        [...series.values()].flatMap((s) => [
          ...buckets.map((b, i) => `${name}_bucket${render({ ...s.labels, le: String(b) })} ${s.counts[i]}`),
          `${name}_bucket${render({ ...s.labels, le: "+Inf" })} ${s.count}`,
          `${name}_sum${render(s.labels)} ${s.sum}`,
          `${name}_count${render(s.labels)} ${s.count}`,
        ]),
    });
    return {
      observe(value: number, labels: Labels = {}) {
        const k = key(labels);
        const s = series.get(k) ?? { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
        buckets.forEach((b, i) => {
          if (value <= b) s.counts[i]! += 1;
        });
        s.sum += value;
        s.count += 1;
        series.set(k, s);
      },
    };
  }

  return {
    counter,
    gauge,
    histogram,
    /** Runs before each scrape; a failing collector leaves its gauges at their last values. */
    collect(fn: () => Promise<void>) {
      collectors.push(fn);
    },
    /** The families' names, so that another registry's text can leave them out. */
    names: () => families.map((f) => f.name),
    /**
     * Prometheus text. `onlyWithSamples` leaves out families nothing has recorded into, and
     * `exclude` the named ones: what the background thread's registry adds to the API thread's.
     */
    async render(opts: { onlyWithSamples?: boolean; exclude?: string[] } = {}) {
      await Promise.allSettled(collectors.map((c) => c()));
      const shown = families.filter((f) => !opts.exclude?.includes(f.name)).map((f) => ({ f, lines: f.lines() })).filter((x) => !opts.onlyWithSamples || x.lines.length > 0);
      return shown.length === 0 ? "" : `${shown.flatMap(({ f, lines }) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...lines]).join("\n")}\n`;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
