// Overview: throughput, acknowledgement latency, object-store requests and their cost,
// the cache's hit rate, from the gateway's ring of recent samples.

import { get } from "./api.js";
import { bytes, errorBox, h, lineChart, number } from "./view.js";

const GIB = 1024 * 1024 * 1024;

function card(label, value, id) {
  return h("div", { class: "card", "data-metric": id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

function perGib(requestsPerSecond, pricePer1000, bytesPerSecond) {
  if (!bytesPerSecond) return null;
  return (requestsPerSecond * pricePer1000 / 1000) / (bytesPerSecond / GIB);
}

function render(root, data) {
  const samples = data.samples;
  const last = samples[samples.length - 1] || {};
  const xs = samples.map((s) => s.at_ms);
  const series = (field) => samples.map((s) => s[field]);
  const rate = (v) => `${number(v, 1)}/s`;
  const ms = (v) => (v === null || v === undefined ? "–" : `${number(v, 1)} ms`);
  const putCost = perGib(last.puts_per_s, data.pricing.put_per_1000, last.bytes_written_per_s);
  const getCost = perGib(last.gets_per_s, data.pricing.get_per_1000, last.bytes_read_per_s);
  root.replaceChildren(
    h("h1", {}, "Overview"),
    h("p", { class: "muted" }, `This gateway, the last ${Math.round((samples.length * data.interval_ms) / 1000)} s, sampled every ${data.interval_ms / 1000} s.`),
    h("div", { class: "cards" },
      card("Produced records/s", number(last.produce_records_per_s, 1), "produce-records"),
      card("Produced MB/s", number((last.produce_bytes_per_s || 0) / 1e6, 2), "produce-bytes"),
      card("Fetched records/s", number(last.fetch_records_per_s, 1), "fetch-records"),
      card("Ack latency p50 / p99", `${ms(last.ack_p50_ms)} / ${ms(last.ack_p99_ms)}`, "ack-latency"),
      card("PUTs/s · GETs/s", `${number(last.puts_per_s, 1)} · ${number(last.gets_per_s, 1)}`, "requests"),
      card("PUT cost per GiB written", putCost === null ? "–" : `$${number(putCost, 4)}`, "put-cost"),
      card("GET cost per GiB read", getCost === null ? "–" : `$${number(getCost, 4)}`, "get-cost"),
      card("Cache hit rate", last.cache_hit_rate === null || last.cache_hit_rate === undefined ? "–" : `${number(last.cache_hit_rate * 100, 1)} %`, "cache"),
      card("Written to the bucket", `${bytes(last.bytes_written_per_s)}/s`, "written"),
    ),
    h("div", { class: "charts" },
      lineChart("Records per second", xs, [
        { name: "produced", values: series("produce_records_per_s"), format: rate },
        { name: "fetched", values: series("fetch_records_per_s"), format: rate },
      ]),
      lineChart("Acknowledgement latency", xs, [
        { name: "p99", values: series("ack_p99_ms"), format: ms },
        { name: "p50", values: series("ack_p50_ms"), format: ms },
      ]),
      lineChart("Object-store requests per second", xs, [
        { name: "PUT", values: series("puts_per_s"), format: rate },
        { name: "GET", values: series("gets_per_s"), format: rate },
      ]),
    ),
    h("p", { class: "muted" }, `Costs at $${data.pricing.put_per_1000} per 1,000 PUTs and $${data.pricing.get_per_1000} per 1,000 GETs (S3 Standard list prices).`),
  );
}

export function overview(root) {
  let stopped = false;
  const tick = async () => {
    try {
      render(root, await get("/v1/console/metrics"));
    } catch (error) {
      root.replaceChildren(h("h1", {}, "Overview"), errorBox(error));
    }
    if (!stopped) timer = setTimeout(tick, 2000);
  };
  let timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
