// Consumer groups: the list; a group's members, assignments, committed offsets and lag
// per partition with a lag chart; resetting the offsets of a group without members.

import { get, post } from "./api.js";
import { errorBox, h, lineChart, number } from "./view.js";

/** Partitions listed at most: those with the most lag. */
const SHOWN = 100;

export function groupList(root) {
  const body = h("div");
  root.replaceChildren(h("h1", {}, "Consumer groups"), body);
  get("/v1/groups").then((answer) => {
    body.replaceChildren(answer.groups.length === 0
      ? h("p", { class: "muted" }, "No consumer group has committed offsets or joined yet.")
      : h("ul", {}, answer.groups.map((group) => h("li", {}, h("a", { href: `#/groups/${encodeURIComponent(group)}` }, group)))));
  }).catch((error) => body.replaceChildren(errorBox(error)));
  return () => {};
}

function resetForm(name, onReset) {
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "inline", id: "reset-offsets" },
    h("label", {}, "Move committed offsets to", h("select", { name: "to" },
      h("option", { value: "earliest" }, "earliest"), h("option", { value: "latest" }, "latest"))),
    h("button", { type: "submit" }, "Reset offsets"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const to = new FormData(form).get("to");
    try {
      await post(`/v1/groups/${encodeURIComponent(name)}/offsets/reset`, { to });
      status.replaceChildren(h("div", { class: "notice" }, `Offsets moved to ${to}.`));
      onReset();
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  });
  return h("section", { "aria-labelledby": "reset-title" },
    h("h2", { id: "reset-title" }, "Reset offsets"),
    h("p", { class: "muted" }, "Only a group without members can be reset."), form, status);
}

export function groupPage(root, name) {
  const lagHistory = [];
  let timer = null;
  const content = h("div");
  const load = async () => {
    clearTimeout(timer);
    try {
      const group = await get(`/v1/groups/${encodeURIComponent(name)}`);
      const total = group.partitions.reduce((sum, p) => sum + p.lag, 0);
      lagHistory.push({ at: Date.now(), lag: total });
      if (lagHistory.length > 150) lagHistory.shift();
      content.replaceChildren(
        h("div", { class: "cards" },
          h("div", { class: "card", "data-metric": "lag" }, h("div", { class: "label" }, "Total lag"), h("div", { class: "value", id: "total-lag" }, number(total))),
          h("div", { class: "card" }, h("div", { class: "label" }, "Members"), h("div", { class: "value" }, number(group.members.length))),
          h("div", { class: "card" }, h("div", { class: "label" }, "Generation"), h("div", { class: "value" }, number(group.generation)))),
        h("div", { class: "charts" }, lineChart("Lag (records)", lagHistory.map((s) => s.at), [
          { name: "lag", values: lagHistory.map((s) => s.lag), format: (v) => number(v) }])),
        h("h2", {}, "Members"),
        group.members.length === 0 ? h("p", { class: "muted" }, "No members.") : h("div", { class: "scroll" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Member"), h("th", { scope: "col" }, "Topics"), h("th", { scope: "col" }, "Assigned partitions"))),
          h("tbody", {}, group.members.map((m) => h("tr", {},
            h("td", { class: "mono" }, m.member_id), h("td", {}, m.topics.join(", ")),
            h("td", {}, m.assignments.map((a) => `${a.topic}/${a.partition}`).join(", "))))))),
        h("h2", {}, "Partitions"),
        h("div", { class: "scroll" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Topic"), h("th", { class: "num", scope: "col" }, "Partition"),
            h("th", { class: "num", scope: "col" }, "Committed"), h("th", { class: "num", scope: "col" }, "High watermark"),
            h("th", { class: "num", scope: "col" }, "Lag"), h("th", { class: "hide-narrow", scope: "col" }, "Owner"))),
          h("caption", { class: "muted" }, group.partitions.length > SHOWN
            ? `The ${SHOWN} partitions with the most lag, of ${number(group.partitions.length)}`
            : `${number(group.partitions.length)} partitions`),
          h("tbody", {}, [...group.partitions].sort((a, b) => b.lag - a.lag).slice(0, SHOWN).map((p) => h("tr", { "data-partition": `${p.topic}/${p.partition}` },
            h("td", {}, p.topic), h("td", { class: "num" }, p.partition),
            h("td", { class: "num" }, p.committed_offset === null ? "–" : number(p.committed_offset)),
            h("td", { class: "num" }, number(p.high_watermark)), h("td", { class: "num", "data-lag": p.lag }, number(p.lag)),
            h("td", { class: "hide-narrow mono" }, p.owner || "–")))))));
    } catch (error) {
      content.replaceChildren(errorBox(error));
    }
    timer = setTimeout(load, 2000);
  };
  root.replaceChildren(
    h("h1", {}, "Group ", h("span", { class: "mono" }, name)),
    h("p", {}, h("a", { href: "#/groups" }, "All groups")),
    content,
    resetForm(name, () => load()));
  load();
  return () => clearTimeout(timer);
}
