// The record browser: a partition from an offset or a time, a page at a time forward
// and back; a live tail over the partition's event stream; a test record produced.

import { follow, get, post } from "./api.js";
import { errorBox, h, showValue, time } from "./view.js";

const PAGE = 20;

function recordRow(record) {
  const headers = record.headers.map(([name, value]) =>
    h("div", { class: "mono" }, `${name}: `, value === null ? h("span", { class: "muted" }, "null") : typeof value === "string" ? value : `base64 ${value.base64}`));
  return h("tr", { "data-offset": record.offset },
    h("td", { class: "num" }, record.offset),
    h("td", { class: "hide-narrow mono" }, time(record.timestamp)),
    h("td", {}, showValue(record.key, record.key_base64)),
    h("td", {}, showValue(record.value, record.value_base64)),
    h("td", { class: "hide-narrow" }, headers));
}

function recordTable(records, caption) {
  return h("div", { class: "scroll" }, h("table", { "aria-live": "polite" },
    h("caption", { class: "muted" }, caption),
    h("thead", {}, h("tr", {},
      h("th", { class: "num", scope: "col" }, "Offset"), h("th", { class: "hide-narrow", scope: "col" }, "Time"),
      h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"), h("th", { class: "hide-narrow", scope: "col" }, "Headers"))),
    h("tbody", {}, records.map(recordRow))));
}

function produceForm(topic, partitionOf, onProduced) {
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "inline", id: "produce", "aria-label": "Produce a test record" },
    h("label", {}, "Key", h("input", { name: "key", autocomplete: "off" })),
    h("label", {}, "Value (JSON or text)", h("textarea", { name: "value", rows: 2, cols: 36, required: true })),
    h("label", {}, "Header (name=value, optional)", h("input", { name: "header", autocomplete: "off" })),
    h("button", { type: "submit" }, "Produce"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const text = data.get("value");
    let value;
    try { value = JSON.parse(text); } catch { value = text; }
    const record = { value, partition: partitionOf() };
    if (data.get("key")) record.key = data.get("key");
    const header = data.get("header");
    if (header) {
      const at = header.indexOf("=");
      record.headers = at < 0 ? { [header]: "" } : { [header.slice(0, at)]: header.slice(at + 1) };
    }
    try {
      const answer = await post(`/v1/topics/${encodeURIComponent(topic)}/records`, { records: [record] });
      const { partition, offset } = answer.offsets[0];
      status.replaceChildren(h("div", { class: "notice" }, `Produced to partition ${partition} at offset ${offset}.`));
      onProduced(partition, offset);
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  });
  return h("section", { "aria-labelledby": "produce-title" }, h("h2", { id: "produce-title" }, "Produce a test record"), form, status);
}

export function recordBrowser(root, topic, params) {
  const state = { partition: Number(params.get("partition") || 0), offset: params.has("offset") ? Number(params.get("offset")) : null };
  let stopTail = null;
  const result = h("div");
  const tail = h("div");
  const partitionSelect = h("input", { name: "partition", type: "number", min: 0, value: state.partition, required: true });
  const offsetInput = h("input", { name: "offset", type: "number", min: 0, value: state.offset ?? "" });
  const timeInput = h("input", { name: "time", type: "datetime-local", step: 1 });
  const path = `/v1/topics/${encodeURIComponent(topic)}`;

  const show = async (query) => {
    try {
      const page = await get(`${path}/partitions/${state.partition}/records?${query}`);
      const first = page.records.length ? page.records[0].offset : page.next_offset;
      state.offset = first;
      offsetInput.value = first;
      result.replaceChildren(
        recordTable(page.records, `Partition ${state.partition}: offsets from ${first}; log start ${page.log_start_offset}, high watermark ${page.high_watermark}`),
        h("div", { class: "toolbar" },
          h("button", { class: "secondary", disabled: first <= page.log_start_offset, onclick: () => show(`offset=${Math.max(page.log_start_offset, first - PAGE)}&max_records=${PAGE}`) }, "Previous page"),
          h("button", { class: "secondary", disabled: page.next_offset >= page.high_watermark, onclick: () => show(`offset=${page.next_offset}&max_records=${PAGE}`) }, "Next page")));
    } catch (error) {
      result.replaceChildren(errorBox(error));
    }
  };

  const go = (event) => {
    if (event) event.preventDefault();
    state.partition = Number(partitionSelect.value);
    if (timeInput.value) {
      show(`timestamp=${new Date(`${timeInput.value}Z`).getTime()}&max_records=${PAGE}`);
    } else if (offsetInput.value !== "") {
      show(`offset=${Number(offsetInput.value)}&max_records=${PAGE}`);
    } else {
      show(`max_records=${PAGE}`);
    }
  };

  const tailButton = h("button", { class: "secondary", type: "button", "aria-pressed": "false" }, "Live tail");
  tailButton.addEventListener("click", async () => {
    if (stopTail) {
      stopTail();
      stopTail = null;
      tailButton.setAttribute("aria-pressed", "false");
      tailButton.textContent = "Live tail";
      return;
    }
    const seen = [];
    const described = await get(`${path}?partitions_from=${state.partition}&partitions_limit=1`).catch(() => null);
    const from = described && described.partitions.length ? described.partitions[0].high_watermark : 0;
    tail.replaceChildren(h("p", { class: "muted", id: "tail-status" }, `Tailing partition ${state.partition} from offset ${from}…`));
    stopTail = follow(`${path}/partitions/${state.partition}/stream?offset=${from}`, (record) => {
      seen.unshift(record);
      seen.length = Math.min(seen.length, 50);
      tail.replaceChildren(recordTable(seen, `Live: the newest ${seen.length} records of partition ${state.partition}`));
    }, (error) => tail.replaceChildren(errorBox(error)));
    tailButton.setAttribute("aria-pressed", "true");
    tailButton.textContent = "Stop tail";
  });

  const form = h("form", { class: "inline", id: "browse", "aria-label": "Browse records" },
    h("label", {}, "Partition", partitionSelect),
    h("label", {}, "From offset", offsetInput),
    h("label", {}, "or from time (UTC)", timeInput),
    h("button", { type: "submit" }, "Show"),
    tailButton);
  form.addEventListener("submit", go);
  root.replaceChildren(
    h("h1", {}, "Records of ", h("a", { class: "mono", href: `#/topics/${encodeURIComponent(topic)}` }, topic)),
    form, result, h("h2", {}, "Live tail"), tail,
    produceForm(topic, () => Number(partitionSelect.value), () => { if (!stopTail) go(); }));

  get(`${path}?partitions_from=0&partitions_limit=1`).then((described) => {
    partitionSelect.max = described.partition_count - 1;
    go();
  }).catch((error) => result.replaceChildren(errorBox(error)));
  return () => { if (stopTail) stopTail(); };
}
