// Small helpers for building pages: elements, numbers, record values, line charts.

/** An element with attributes (on* as listeners) and children (strings are text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An error message that screen readers announce. */
export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, error instanceof Error ? error.message : String(error));
}

export function number(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${number(value, unit ? 1 : 0)} ${units[unit]}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 0) return "unlimited";
  const steps = [[86400000, "d"], [3600000, "h"], [60000, "min"], [1000, "s"]];
  for (const [size, unit] of steps) if (ms >= size) return `${number(ms / size, 1)} ${unit}`;
  return `${number(ms, 1)} ms`;
}

export function time(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

function decodeBase64(text) {
  const raw = atob(text);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** How a key or value reads best: JSON pretty-printed, text, or hex for binary. */
export function showValue(value, base64) {
  if (base64 !== undefined) {
    const data = decodeBase64(base64);
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(data);
      return h("span", { class: "mono" }, h("span", { class: "tag" }, "text"), " ", text);
    } catch {
      const hex = Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
      return h("span", { class: "mono" }, h("span", { class: "tag" }, "hex"), " ", hex);
    }
  }
  if (value === null || value === undefined) return h("span", { class: "muted" }, "null");
  if (typeof value === "string") return h("span", { class: "mono" }, value);
  return h("pre", {}, JSON.stringify(value, null, 2));
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

/**
 * A line chart of up to two series over the same x values, with its latest values as
 * the accessible description.
 */
export function lineChart(title, xs, series) {
  const width = 320;
  const height = 140;
  const pad = { left: 44, right: 8, top: 8, bottom: 18 };
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const top = Math.max(1, ...all) * 1.1;
  const x0 = xs.length ? xs[0] : 0;
  const x1 = xs.length > 1 ? xs[xs.length - 1] : x0 + 1;
  const px = (x) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const py = (y) => height - pad.bottom - (y / top) * (height - pad.top - pad.bottom);
  const latest = series.map((s) => `${s.name} ${s.format(s.values[s.values.length - 1])}`).join(", ");
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${latest}` });
  chart.append(svg("line", { class: "axis", x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }));
  chart.append(svg("line", { class: "axis", x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom }));
  const label = svg("text", { x: 2, y: pad.top + 10 });
  label.textContent = series[0] ? series[0].format(top) : "";
  chart.append(label);
  const zero = svg("text", { x: 2, y: height - pad.bottom });
  zero.textContent = "0";
  chart.append(zero);
  const span = svg("text", { x: pad.left, y: height - 4 });
  span.textContent = xs.length ? `last ${Math.round((x1 - x0) / 1000)} s` : "no samples yet";
  chart.append(span);
  series.forEach((s, index) => {
    const points = s.values
      .map((v, i) => (Number.isFinite(v) ? `${px(xs[i]).toFixed(1)},${py(v).toFixed(1)}` : null))
      .filter(Boolean)
      .join(" ");
    chart.append(svg("polyline", { class: `line-${index + 1}`, points, "data-series": s.name }));
  });
  const legend = series.map((s, index) => h("span", { class: "muted" }, index ? " · dashed: " : "", `${s.name} ${s.format(s.values[s.values.length - 1])}`));
  return h("figure", { class: "chart" }, h("figcaption", {}, title, " — ", legend), chart);
}
