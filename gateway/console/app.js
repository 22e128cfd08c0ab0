// The console's shell: hash routes to pages, the section links, and signing in when
// the gateway asks for credentials.

import { authorization, get, signIn, signOut, whenUnauthenticated } from "./api.js";
import { groupList, groupPage } from "./groups.js";
import { overview } from "./overview.js";
import { recordBrowser } from "./records.js";
import { topicList, topicPage } from "./topics.js";
import { h } from "./view.js";

const main = document.getElementById("main");
let leave = () => {};

function route() {
  leave();
  const [path, query = ""] = location.hash.slice(1).split("?");
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  let section = "overview";
  if (parts[0] === "topics" && parts.length === 1) {
    section = "topics";
    leave = topicList(main);
  } else if (parts[0] === "topics" && parts[2] === "records") {
    section = "topics";
    leave = recordBrowser(main, parts[1], params);
  } else if (parts[0] === "topics") {
    section = "topics";
    leave = topicPage(main, parts[1]);
  } else if (parts[0] === "groups" && parts.length === 1) {
    section = "groups";
    leave = groupList(main);
  } else if (parts[0] === "groups") {
    section = "groups";
    leave = groupPage(main, parts[1]);
  } else {
    leave = overview(main);
  }
  for (const link of document.querySelectorAll("header nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const title = { overview: "Overview", topics: "Topics", groups: "Consumer groups" }[section];
  document.title = `${title} · Silt console`;
}

function showWho() {
  const who = document.getElementById("who");
  if (!authorization()) {
    who.replaceChildren();
    return;
  }
  who.replaceChildren("Signed in", h("button", { class: "secondary", type: "button", onclick: () => { signOut(); location.reload(); } }, "Sign out"));
}

const dialog = document.getElementById("login");
const loginForm = document.getElementById("login-form");
const loginError = document.getElementById("login-error");

whenUnauthenticated(() => {
  if (!dialog.open) dialog.showModal();
});

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(loginForm);
  const key = data.get("key").trim();
  const value = key
    ? `Bearer ${key}`
    : `Basic ${btoa(unescape(encodeURIComponent(`${data.get("user")}:${data.get("password")}`)))}`;
  signIn(value);
  try {
    await get("/v1/topics");
    loginError.hidden = true;
    dialog.close();
    loginForm.reset();
    showWho();
    route();
  } catch (error) {
    signOut();
    loginError.textContent = error.status === 401 ? "Those credentials were not accepted." : error.message;
    loginError.hidden = false;
  }
});

window.addEventListener("hashchange", route);
showWho();
route();
