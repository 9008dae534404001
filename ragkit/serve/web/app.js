// ragkit web page: ask a question, stream the answer from POST v1/ask, show its citations.
// Document text is only ever inserted with textContent: a passage cannot inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "ragkit-api-key";
let authRequired = false;
let citationsByNumber = new Map();
// The conversation: each turn's question as asked and the answer text shown. Earlier questions
// go to the server, which makes a follow-up ("And in the UK office?") standalone.
let turns = [];
let pending = null; // the turn being answered

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
  if (!citation.page) return "";
  const span = citation.page_end && citation.page_end > citation.page;
  let label = span ? "pages " + citation.page + "-" + citation.page_end : "p. " + citation.page;
  if (citation.ocr_confidence != null) {
    label += ", OCR text (confidence " + Math.round(citation.ocr_confidence * 100) + "%)";
  }
  return label;
}

// --- the quote panel ---------------------------------------------------------------------

// --- the cited document, opened beside the answer ----------------------------------------------

const PDFJS = "static/vendor/pdfjs/pdf.min.mjs";
const PDFJS_WORKER = "static/vendor/pdfjs/pdf.worker.min.mjs";
let pdfjsModule = null;
let documentRequest = 0; // a later click wins over a slower earlier one

function documentUrl(source) {
  // The source is a path: keep its slashes, escape everything else.
  return "v1/documents/" + source.split("/").map(encodeURIComponent).join("/");
}

// Words of a text, for matching a quote against text that lays it out differently (PDF
// lines, Markdown rendered to HTML): letters and digits only, lower-cased.
function words(text) {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []);
}

async function openDocument(citation) {
  const request = ++documentRequest;
  const view = $("doc-view");
  const body = $("doc-body");
  view.hidden = false;
  view.dataset.state = "loading";
  $("doc-title").textContent = citation.source;
  $("doc-where").textContent = [citation.page ? "page " + citation.page : "", citation.section]
    .filter(Boolean)
    .join(" \u00b7 ");
  $("doc-note").textContent = "Opening\u2026";
  body.replaceChildren();
  try {
    const response = await fetch(documentUrl(citation.source), { headers: headers() });
    if (request !== documentRequest) return;
    if (!response.ok) {
      $("doc-note").textContent = await errorMessage(response);
      view.dataset.state = "error";
      return;
    }
    const type = response.headers.get("Content-Type") || "";
    let found;
    if (type.startsWith("application/pdf")) {
      found = await renderPdf(await response.arrayBuffer(), citation, body);
    } else {
      const raw = await response.text();
      found = renderText(type.startsWith("text/html") ? htmlText(raw) : raw, citation, body);
    }
    if (request !== documentRequest) return;
    $("doc-note").textContent = found ? "" : "The quoted words could not be located on this page.";
    view.dataset.state = "ready";
  } catch (err) {
    $("doc-note").textContent = "The document could not be shown: " + err.message;
    view.dataset.state = "error";
  }
}

// The text of an HTML document, block by block. DOMParser documents are inert: nothing in
// them runs or loads, and only textContent reaches the page.
function htmlText(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const blocks = "h1,h2,h3,h4,h5,h6,p,li,pre,tr,blockquote,dt,dd";
  const parts = Array.from(doc.body.querySelectorAll(blocks))
    .filter((el) => !el.querySelector(blocks))
    .map((el) => el.textContent.replace(/\s+/g, " ").trim())
    .filter(Boolean);
  return parts.length ? parts.join("\n\n") : doc.body.textContent;
}

// Plain text with the quote marked: matched word by word, whatever lies between the words.
function renderText(text, citation, body) {
  const pre = document.createElement("div");
  pre.className = "doc-text";
  const quote = words(citation.quote);
  // Words are letters and digits only, so they need no escaping inside the pattern.
  const pattern = quote.length ? new RegExp(quote.join("[^\\p{L}\\p{N}]+"), "iu") : null;
  const match = pattern ? pattern.exec(text) : null;
  if (!match) {
    pre.textContent = text;
    body.append(pre);
    return false;
  }
  const mark = document.createElement("mark");
  mark.id = "doc-highlight";
  mark.textContent = match[0];
  pre.append(
    document.createTextNode(text.slice(0, match.index)),
    mark,
    document.createTextNode(text.slice(match.index + match[0].length)),
  );
  body.append(pre);
  mark.scrollIntoView({ block: "center" });
  return true;
}

// One PDF page drawn by pdf.js, with its text layer; the spans holding the quote are marked.
async function renderPdf(data, citation, body) {
  if (!pdfjsModule) {
    pdfjsModule = await import(new URL(PDFJS, document.baseURI).href);
    pdfjsModule.GlobalWorkerOptions.workerSrc = new URL(PDFJS_WORKER, document.baseURI).href;
  }
  const pdf = await pdfjsModule.getDocument({ data, isEvalSupported: false }).promise;
  const number = Math.min(Math.max(citation.page || 1, 1), pdf.numPages);
  const page = await pdf.getPage(number);
  const width = Math.max(320, body.clientWidth || 600);
  const viewport = page.getViewport({ scale: width / page.getViewport({ scale: 1 }).width });
  const holder = document.createElement("div");
  holder.className = "pdf-page";
  holder.style.width = viewport.width + "px";
  holder.style.height = viewport.height + "px";
  const canvas = document.createElement("canvas");
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  const layer = document.createElement("div");
  layer.className = "textLayer";
  layer.style.setProperty("--total-scale-factor", String(viewport.scale));
  layer.style.setProperty("--scale-factor", String(viewport.scale));
  holder.append(canvas, layer);
  body.append(holder);
  await page.render({ canvasContext: canvas.getContext("2d"), viewport }).promise;
  const text = new pdfjsModule.TextLayer({
    textContentSource: await page.getTextContent(),
    container: layer,
    viewport,
  });
  await text.render();
  return highlightSpans(layer, citation.quote);
}

// Marks the text-layer spans that together spell the quote: the longest run of consecutive
// spans whose words all belong to the quote's word sequence, in order.
function highlightSpans(layer, quote) {
  const target = words(quote).join(" ");
  if (!target) return false;
  const spans = Array.from(layer.querySelectorAll("span")).filter((s) => words(s.textContent).length);
  let best = [];
  for (let start = 0; start < spans.length; start++) {
    let joined = "";
    const run = [];
    for (let i = start; i < spans.length; i++) {
      const piece = words(spans[i].textContent).join(" ");
      const next = joined ? joined + " " + piece : piece;
      if (!target.includes(next)) break;
      joined = next;
      run.push(spans[i]);
    }
    if (run.length > best.length) best = run;
  }
  best.forEach((span) => span.classList.add("highlight"));
  if (best.length) best[0].scrollIntoView({ block: "center" });
  return best.length > 0;
}

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
  button.addEventListener("click", () => {
    showQuote(citation);
    openDocument(citation);
  });
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

function renderTurns() {
  const list = $("turns");
  list.replaceChildren(
    ...turns.map((turn) => {
      const item = document.createElement("li");
      const q = document.createElement("div");
      q.className = "turn-question";
      q.textContent = turn.question;
      const a = document.createElement("div");
      a.className = "turn-answer";
      a.textContent = turn.answer;
      item.append(q, a);
      return item;
    }),
  );
  $("new-conversation").hidden = turns.length === 0 && !pending;
}

function newConversation() {
  turns = [];
  pending = null;
  renderTurns();
  $("result").hidden = true;
  $("searched-as").hidden = true;
  $("doc-view").hidden = true;
  $("quote-panel").hidden = true;
  setStatus("New conversation: the next question stands on its own.");
  $("question").focus();
}

function renderAnswer(answer) {
  const searched = $("searched-as");
  const standalone = answer.standalone_question;
  searched.hidden = !(standalone && pending && standalone !== pending.question);
  searched.textContent = searched.hidden ? "" : "Searched as: " + standalone;
  if (pending) pending.answer = answer.answer;
  renderCitations(answer.citations);
  renderAnswerText(answer.answer);
  $("answer").classList.toggle("abstained", answer.abstained);
  $("answer").classList.toggle("quoted", Boolean(answer.quoted)); // the documents' own words
  setStatus(answer.abstained ? "No answer in the documents you can search." : "");
}

// --- asking: POST v1/ask with stream: true; events are `data: {json}` lines ----------------

async function ask(question) {
  if (pending && pending.answer !== null) {
    turns.push(pending); // the answer on screen becomes an earlier turn
    renderTurns();
  }
  pending = { question, answer: null };
  const history = turns.map((turn) => turn.question);
  $("searched-as").hidden = true;
  $("result").hidden = false;
  $("quote-panel").hidden = true;
  $("citations-box").hidden = true;
  const answer = $("answer");
  answer.replaceChildren();
  answer.classList.remove("abstained", "quoted");
  answer.classList.add("streaming");
  setStatus("Searching\u2026", "busy");
  $("ask").disabled = true;
  try {
    const response = await fetch("v1/ask", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ question, stream: true, history }),
    });
    if (!response.ok) {
      if (response.status === 401) {
        $("key-box").hidden = false;
        setStatus(
          apiKey()
            ? "That API key was not accepted: paste a valid key above and ask again."
            : "This server needs an API key: paste your key above, then ask again.",
          "error",
        );
        $("api-key").focus();
      } else {
        setStatus(await errorMessage(response), "error");
      }
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
    if (pending && pending.answer === null) pending = null; // failed: not part of the talk
    $("new-conversation").hidden = turns.length === 0 && !pending;
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
    if (question) {
      ask(question);
      $("question").value = "";
    }
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("quote-close").addEventListener("click", () => {
    $("quote-panel").hidden = true;
  });
  $("doc-close").addEventListener("click", () => {
    $("doc-view").hidden = true;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("quote-panel").hidden = true;
  });
  loadSources();
  $("question").focus();
}

init();
