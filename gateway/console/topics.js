// Topics: a page of topics with their totals and rates; create and delete (with
// confirmation); a topic's partitions (a page at a time) and compacted files.

import { del, get, post } from "./api.js";
import { bytes, duration, errorBox, h, number } from "./view.js";

const PAGE = 50;
const PARTITION_PAGE = 100;

function createForm(onCreated) {
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "inline", id: "create-topic", "aria-label": "Create a topic" },
    h("label", {}, "Name", h("input", { name: "name", required: true, pattern: "[A-Za-z0-9._\\-]+", maxlength: 249 })),
    h("label", {}, "Partitions", h("input", { name: "partitions", type: "number", min: 1, max: 10000, value: 3, required: true })),
    h("label", {}, "Retention (ms, empty: default)", h("input", { name: "retention_ms", type: "number", min: -1 })),
    h("label", {}, "Value schema (JSON, optional)", h("textarea", { name: "value_schema", rows: 2, cols: 36 })),
    h("button", { type: "submit" }, "Create topic"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name"), partitions: Number(data.get("partitions")) };
    if (data.get("retention_ms")) body.retention_ms = Number(data.get("retention_ms"));
    try {
      if (data.get("value_schema").trim()) body.value_schema = JSON.parse(data.get("value_schema"));
      await post("/v1/topics", body);
      status.replaceChildren(h("div", { class: "notice" }, `Created ${body.name}.`));
      form.reset();
      onCreated();
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  });
  return h("section", { "aria-labelledby": "create-title" }, h("h2", { id: "create-title" }, "Create a topic"), form, status);
}

export function topicList(root) {
  let after = null;
  const history = [];
  let previous = new Map();
  let timer = null;
  const table = h("div");
  const load = async () => {
    clearTimeout(timer);
    try {
      const query = new URLSearchParams({ limit: PAGE });
      if (after) query.set("after", after);
      const page = await get(`/v1/console/topics?${query}`);
      const now = Date.now();
      const rows = page.topics.map((topic) => {
        const before = previous.get(topic.name);
        const rate = before ? ((topic.records - before.records) * 1000) / (now - before.at) : null;
        previous.set(topic.name, { records: topic.records, at: now });
        return h("tr", { "data-topic": topic.name },
          h("td", {}, h("a", { href: `#/topics/${encodeURIComponent(topic.name)}` }, topic.name)),
          h("td", { class: "num" }, number(topic.partition_count)),
          h("td", { class: "num" }, number(topic.records)),
          h("td", { class: "num", "data-rate": "" }, rate === null ? "–" : number(Math.max(0, rate), 1)),
          h("td", { class: "num hide-narrow" }, topic.retention_ms === null ? "default" : duration(topic.retention_ms)),
          h("td", { class: "num hide-narrow" }, bytes(topic.segment_bytes)),
          h("td", { class: "num hide-narrow" }, `${number(topic.parquet_files)} · ${bytes(topic.parquet_bytes)}`),
        );
      });
      table.replaceChildren(
        h("div", { class: "scroll" }, h("table", {},
          h("caption", { class: "muted" }, `${number(page.total)} topics`),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Topic"), h("th", { scope: "col", class: "num" }, "Partitions"),
            h("th", { scope: "col", class: "num" }, "Records"), h("th", { scope: "col", class: "num" }, "Records/s"),
            h("th", { scope: "col", class: "num hide-narrow" }, "Retention"),
            h("th", { scope: "col", class: "num hide-narrow" }, "In segments"),
            h("th", { scope: "col", class: "num hide-narrow" }, "Parquet files · size"))),
          h("tbody", {}, rows))),
        h("div", { class: "toolbar" },
          h("button", { class: "secondary", disabled: history.length === 0, onclick: () => { after = history.pop() ?? null; previous = new Map(); load(); } }, "Previous page"),
          h("button", { class: "secondary", disabled: !page.next, onclick: () => { history.push(after); after = page.next; previous = new Map(); load(); } }, "Next page")),
      );
    } catch (error) {
      table.replaceChildren(errorBox(error));
    }
    timer = setTimeout(load, 10000);
  };
  root.replaceChildren(h("h1", {}, "Topics"), table, createForm(load));
  load();
  return () => clearTimeout(timer);
}

function deleteSection(name) {
  const status = h("div", { "aria-live": "polite" });
  const confirmInput = h("input", { name: "confirm", autocomplete: "off", "aria-describedby": "delete-help" });
  const button = h("button", { class: "danger", type: "submit", disabled: true }, "Delete topic");
  confirmInput.addEventListener("input", () => { button.disabled = confirmInput.value !== name; });
  const form = h("form", { class: "inline", id: "delete-topic" },
    h("label", {}, `Type "${name}" to confirm`, confirmInput), button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirmInput.value !== name) return;
    try {
      await del(`/v1/topics/${encodeURIComponent(name)}`);
      location.hash = "#/topics";
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  });
  return h("section", { "aria-labelledby": "delete-title" },
    h("h2", { id: "delete-title" }, "Delete"),
    h("p", { id: "delete-help", class: "muted" }, "Deleting a topic removes all of its records and its tables. This cannot be undone."),
    form, status);
}

export function topicPage(root, name) {
  let from = 0;
  let timer = null;
  const partitions = h("div");
  const tables = h("div");
  const summary = h("div");
  const path = `/v1/topics/${encodeURIComponent(name)}`;
  const load = async () => {
    clearTimeout(timer);
    try {
      const topic = await get(`${path}?partitions_from=${from}&partitions_limit=${PARTITION_PAGE}`);
      summary.replaceChildren(h("p", {},
        `${number(topic.partition_count)} partitions · retention ${duration(topic.retention_ms ?? null)}`,
        topic.value_schema ? " · value schema declared" : ""));
      const rows = topic.partitions.map((p) => h("tr", { "data-partition": p.partition },
        h("td", { class: "num" }, p.partition),
        h("td", { class: "num" }, number(p.log_start_offset)),
        h("td", { class: "num" }, number(p.high_watermark)),
        h("td", { class: "num hide-narrow" }, number(p.last_stable_offset)),
        h("td", {}, h("a", { href: `#/topics/${encodeURIComponent(name)}/records?partition=${p.partition}` }, "Browse"))));
      partitions.replaceChildren(
        h("div", { class: "scroll" }, h("table", {},
          h("caption", { class: "muted" }, `Partitions ${from}–${from + topic.partitions.length - 1} of ${topic.partition_count}`),
          h("thead", {}, h("tr", {}, h("th", { class: "num", scope: "col" }, "Partition"), h("th", { class: "num", scope: "col" }, "Log start"),
            h("th", { class: "num", scope: "col" }, "High watermark"), h("th", { class: "num hide-narrow", scope: "col" }, "Last stable"), h("th", { scope: "col" }, "Records"))),
          h("tbody", {}, rows))),
        h("div", { class: "toolbar" },
          h("button", { class: "secondary", disabled: from === 0, onclick: () => { from = Math.max(0, from - PARTITION_PAGE); load(); } }, "Previous partitions"),
          h("button", { class: "secondary", disabled: from + PARTITION_PAGE >= topic.partition_count, onclick: () => { from += PARTITION_PAGE; load(); } }, "Next partitions")));
    } catch (error) {
      partitions.replaceChildren(errorBox(error));
    }
    try {
      const listed = await get(`${path}/tables?limit=50`);
      if (listed.tables.length === 0) {
        tables.replaceChildren(h("p", { class: "muted" }, "Nothing compacted yet."));
      } else {
        const rows = listed.tables.map((file) => h("tr", {},
          h("td", { class: "mono" }, file.object_key),
          h("td", { class: "num" }, bytes(file.size_bytes)),
          h("td", {}, file.ranges.map((r) => `p${r.partition} ${r.start_offset}–${r.end_offset - 1}`).join(", "))));
        const head = h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "File"), h("th", { class: "num", scope: "col" }, "Size"), h("th", { scope: "col" }, "Offsets")));
        tables.replaceChildren(
          h("div", { class: "scroll" }, h("table", {}, head, h("tbody", {}, rows))),
          h("p", { class: "muted" }, `The newest ${listed.tables.length} of ${listed.total} files.`));
      }
    } catch (error) {
      tables.replaceChildren(errorBox(error));
    }
    timer = setTimeout(load, 5000);
  };
  root.replaceChildren(
    h("h1", {}, "Topic ", h("span", { class: "mono" }, name)),
    h("p", {}, h("a", { href: `#/topics/${encodeURIComponent(name)}/records` }, "Browse records"), " · ", h("a", { href: "#/topics" }, "All topics")),
    summary,
    h("h2", {}, "Partitions"), partitions,
    h("h2", {}, "Compacted tables"), tables,
    deleteSection(name));
  load();
  return () => clearTimeout(timer);
}
