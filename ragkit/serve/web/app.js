// ragkit web page: ask a question, stream the answer from POST v1/ask, show its citations.
// Document text is only ever inserted with textContent: a passage cannot inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "ragkit-api-key";
let authRequired = false;
let citationsByNumber = new Map();

function apiKey() {
  return sessionStorage.getItem(KEY_STORE) || "";
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = apiKey();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text || "";
  el.className = "status" + (kind ? " " + kind : "");
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) {
    /* not JSON */
  }
  return "the server answered " + response.status;
}

function pageLabel(citation) {
  return citation.page ? "p. " + citation.page : "";
}

// --- the quote panel ---------------------------------------------------------------------

function showQuote(citation) {
  $("quote-text").textContent = "\u201c" + citation.quote + "\u201d";
  $("quote-source").textContent = citation.source;
  $("quote-section").textContent = citation.section || "\u2014";
  $("quote-page").textContent = citation.page ? String(citation.page) : "\u2014";
  const panel = $("quote-panel");
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
  $("quote-close").focus();
}

function citationButton(number, citation, label) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "citation";
  button.dataset.n = String(number);
  button.textContent = label;
  button.addEventListener("click", () => showQuote(citation));
  return button;
}

// --- rendering an answer -----------------------------------------------------------------

function renderCitations(citations) {
  const list = $("citations");
  list.replaceChildren();
  citationsByNumber = new Map();
  for (const citation of citations) {
    if (!citationsByNumber.has(citation.n)) citationsByNumber.set(citation.n, citation);
    const item = document.createElement("li");
    const where = [citation.source, pageLabel(citation)].filter(Boolean).join(" \u00b7 ");
    item.append(citationButton(citation.n, citation, "[" + citation.n + "] " + where));
    if (citation.section) {
      const section = document.createElement("span");
      section.className = "muted section";
      section.textContent = citation.section;
      item.append(section);
    }
    list.append(item);
  }
  $("citations-box").hidden = citations.length === 0;
}

// Answer text with its [n] markers turned into buttons that open the cited quote.
function renderAnswerText(text) {
  const answer = $("answer");
  answer.replaceChildren();
  const marker = /\[(\d{1,2})\]/g;
  let last = 0;
  for (const match of text.matchAll(marker)) {
    const citation = citationsByNumber.get(Number(match[1]));
    if (!citation) continue;
    answer.append(document.createTextNode(text.slice(last, match.index)));
    answer.append(citationButton(citation.n, citation, match[0]));
    last = match.index + match[0].length;
  }
  answer.append(document.createTextNode(text.slice(last)));
}

function renderAnswer(answer) {
  renderCitations(answer.citations);
  renderAnswerText(answer.answer);
  $("answer").classList.toggle("abstained", answer.abstained);
  setStatus(answer.abstained ? "No answer in the documents you can search." : "");
}

// --- asking: POST v1/ask with stream: true; events are `data: {json}` lines ----------------

async function ask(question) {
  $("result").hidden = false;
  $("quote-panel").hidden = true;
  $("citations-box").hidden = true;
  const answer = $("answer");
  answer.replaceChildren();
  answer.classList.remove("abstained");
  answer.classList.add("streaming");
  setStatus("Searching\u2026", "busy");
  $("ask").disabled = true;
  try {
    const response = await fetch("v1/ask", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ question, stream: true }),
    });
    if (!response.ok) {
      if (response.status === 401) $("key-box").hidden = false;
      setStatus(await errorMessage(response), "error");
      $("result").hidden = true;
      return;
    }
    setStatus("Answering\u2026", "busy");
    await readEvents(response, (event) => {
      if (event.type === "delta") {
        answer.append(document.createTextNode(event.text));
      } else if (event.type === "answer") {
        renderAnswer(event);
      } else if (event.type === "error") {
        setStatus(event.error.message, "error");
      }
    });
  } catch (err) {
    setStatus("The server could not be reached: " + err.message, "error");
  } finally {
    answer.classList.remove("streaming");
    $("ask").disabled = false;
  }
}

async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data && data !== "[DONE]") onEvent(JSON.parse(data));
    }
  }
}

// --- documents list and key ----------------------------------------------------------------

async function loadSources() {
  const list = $("source-list");
  try {
    const response = await fetch("v1/sources", { headers: headers() });
    if (!response.ok) {
      list.replaceChildren();
      return;
    }
    const body = await response.json();
    list.replaceChildren(
      ...body.data.map((doc) => {
        const item = document.createElement("li");
        const title = document.createElement("span");
        title.textContent = doc.title;
        const path = document.createElement("span");
        path.className = "muted";
        path.textContent = " " + doc.source + (doc.pages ? " \u00b7 " + doc.pages + " pages" : "");
        item.append(title, path);
        return item;
      }),
    );
    $("sources").querySelector("summary").textContent =
      "Documents you can search (" + body.data.length + ")";
  } catch (_) {
    /* the list is a convenience */
  }
}

async function init() {
  try {
    const health = await (await fetch("healthz")).json();
    authRequired = Boolean(health.auth);
  } catch (_) {
    authRequired = true;
  }
  $("key-box").hidden = !authRequired;
  $("key-state").textContent = apiKey() ? "key set" : "";
  $("save-key").addEventListener("click", () => {
    const key = $("api-key").value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
    $("api-key").value = "";
    $("key-state").textContent = key ? "key set" : "";
    loadSources();
  });
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) ask(question);
  });
  $("quote-close").addEventListener("click", () => {
    $("quote-panel").hidden = true;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("quote-panel").hidden = true;
  });
  loadSources();
  $("question").focus();
}

init();
