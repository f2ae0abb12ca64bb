/* The touchscreen's progressive enhancement: on-screen keyboards, status bar refresh,
   idle logout, the alarm, and the new-crossing steps (which call the kiosk's JSON API).
   Pages work as plain forms without it, except the crossing steps. */
"use strict";

const $ = (id) => document.getElementById(id);
const MESSAGES = JSON.parse(($("messages") || {}).textContent || "{}");

function t(key, values = {}) {
  let text = MESSAGES[key] || key;
  for (const [name, value] of Object.entries(values)) text = text.split("{" + name + "}").join(String(value));
  return text;
}

/* Calls to the kiosk's API: the session cookie is accepted only with this header, and a
   state-changing call also carries the page's CSRF token (appliance/web/csrf.py). */
const CSRF_TOKEN = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { "X-Kiosk-UI": "1", "X-CSRF-Token": CSRF_TOKEN } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = {};
  try { data = await response.json(); } catch (error) { data = {}; }
  if (response.status === 401) {
    sessionEnded();
    throw new Error("session ended");
  }
  return { status: response.status, ok: response.ok, data };
}

/* A fresh id for one record call; crypto.randomUUID needs a secure context, getRandomValues does not. */
function newRequestId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("").replace(
    /^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
}

/* The session ended: on the crossing screen the login page says plainly that the
   traveller was not recorded (the crossing in progress is kept for this officer). */
function sessionEnded() {
  window.location.href = "/login?note=" + ($("crossing-config") ? "expired-crossing" : "expired");
}

function errorText(data) {
  if (!data) return "";
  // An error with a reason code comes with it said in the officer's language (message);
  // error is the kiosk's English, for the log and a technician.
  if (typeof data.message === "string") return data.message;
  if (typeof data.error === "string") return data.error;
  return JSON.stringify(data);
}

/* What the officer reads when a capture device fails: a plain sentence in their language,
   chosen by the device and the kind of failure (the error's class in data.kind). The
   device's own words (data.error: a serial error, a driver's message) are for a technician:
   the kiosk logs them, and diagnostics shows the device's last error. */
function deviceFailure(device, data) {
  const kind = (data && data.kind) || "";
  if (kind === "ConfigError") return t("no_biometric_key");
  if (kind === "FrameError") return t("device_garbled");
  return t(device + "_failed");
}

/* ---- On-screen keyboards ------------------------------------------------------- */

function setupKeyboards() {
  const inputs = Array.from(document.querySelectorAll("[data-keyboard]"));
  for (const input of inputs) {
    input.addEventListener("focus", () => {
      const scope = input.closest("form, section, main") || document;
      for (const other of scope.querySelectorAll("[data-keyboard]")) {
        const board = $(other.dataset.keyboard);
        if (board) board.hidden = other !== input;
      }
      const own = $(input.dataset.keyboard);
      if (own) {
        own.hidden = false;
        // A keyboard shared by several fields types into the one that last had the focus.
        own.dataset.current = input.id;
      }
    });
  }
  for (const board of document.querySelectorAll(".keyboard")) {
    // Keys must not take the focus away from the field they type into.
    board.addEventListener("mousedown", (event) => event.preventDefault());
    board.addEventListener("click", (event) => {
      const key = event.target.closest("button");
      const target = $(board.dataset.current || board.dataset.target);
      if (!key || key.type === "submit" || !target) return;
      const action = key.dataset.action;
      if (action === "next") {
        const fields = Array.from(document.querySelectorAll(`[data-keyboard="${board.id}"]`))
          .filter((field) => !field.closest("[hidden]"));
        const next = fields[(fields.indexOf(target) + 1) % fields.length];
        if (next) next.focus();
        return;
      }
      if (action === "shift") {
        const on = key.getAttribute("aria-pressed") !== "true";
        key.setAttribute("aria-pressed", String(on));
        for (const letter of board.querySelectorAll("[data-key]")) {
          if (/^[a-z]$/i.test(letter.dataset.key)) {
            letter.dataset.key = on ? letter.dataset.key.toUpperCase() : letter.dataset.key.toLowerCase();
            letter.textContent = letter.dataset.key;
          }
        }
        return;
      }
      // Keys type and delete at the cursor (a tap on the text, or the arrow keys, moves it),
      // so one wrong character in the middle is fixed where it is.
      let value = target.value;
      const caret = typeof target.selectionStart === "number" && document.activeElement === target;
      let start = caret ? target.selectionStart : value.length;
      let end = caret ? target.selectionEnd : value.length;
      if (action === "left" || action === "right") {
        const at = action === "left" ? Math.max(0, start - (start === end ? 1 : 0))
          : Math.min(value.length, end + (start === end ? 1 : 0));
        target.setSelectionRange(at, at);
        return;
      }
      let insert = null;
      if (action === "backspace") {
        if (start === end && start > 0) start -= 1;
        insert = "";
      } else if (action === "clear") { start = 0; end = value.length; insert = ""; }
      else if (action === "newline") insert = "\n";
      else if (key.dataset.key !== undefined) insert = key.dataset.key;
      if (insert === null) return;
      value = value.slice(0, start) + insert + value.slice(end);
      const limit = parseInt(target.getAttribute("maxlength") || "0", 10);
      if (limit && value.length > limit) return;
      const before = start + insert.length;
      target.value = value;
      if (caret) target.setSelectionRange(before, before);
      target.dispatchEvent(new Event("input", { bubbles: true }));
      // An input handler may reformat the value (dates get their dashes): keep the cursor
      // after what was typed, counted from the end, which reformatting leaves alone.
      if (caret && document.activeElement === target) {
        const at = Math.max(0, target.value.length - (value.length - before));
        target.setSelectionRange(at, at);
      }
    });
  }
}

/* ---- Status bar, idle logout, show/hide buttons, alarm ----------------------------- */

function setupStatusBar() {
  const bar = $("statusbar");
  if (!bar) return;
  setInterval(async () => {
    try {
      const response = await fetch("/ui/status", { credentials: "same-origin" });
      if (response.ok) bar.innerHTML = await response.text();
    } catch (error) { /* the service is restarting: keep the last bar */ }
  }, 20000);
}

function setupIdleLogout() {
  const seconds = parseInt(document.body.dataset.idleSeconds || "0", 10);
  const form = $("logout-form");
  if (!seconds || !form) return;
  let timer = null;
  const reset = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      form.querySelector("input[name=reason]").value = $("crossing-config") ? "idle-crossing" : "idle";
      form.submit();
    }, seconds * 1000);
  };
  for (const name of ["pointerdown", "keydown", "input"]) document.addEventListener(name, reset, true);
  reset();
}

function setupToggles() {
  for (const button of document.querySelectorAll("[data-show], [data-hide]")) {
    button.addEventListener("click", () => {
      for (const id of (button.dataset.hide || "").split(",").filter(Boolean)) { if ($(id)) $(id).hidden = true; }
      for (const id of (button.dataset.show || "").split(",").filter(Boolean)) { if ($(id)) $(id).hidden = false; }
      stopAlarm();
      const first = document.querySelector('#supervisor:not([hidden])[data-step="confirm"] #sup-confirm input[data-keyboard]');
      if (first) first.focus();
    });
  }
  if ($("silence")) $("silence").addEventListener("click", stopAlarm);
}

let alarm = null;
function startAlarm() {
  // The screen's own buzzer: the kiosk browser runs with autoplay allowed.
  try {
    const context = new (window.AudioContext || window.webkitAudioContext)();
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = 880;
    oscillator.connect(gain).connect(context.destination);
    gain.gain.value = 0;
    oscillator.start();
    let on = false;
    const beat = setInterval(() => { on = !on; gain.gain.value = on ? 0.3 : 0; }, 400);
    alarm = { context, beat };
    document.body.dataset.alarm = "on";
  } catch (error) {
    document.body.dataset.alarm = "unavailable";
  }
}
function stopAlarm() {
  if (!alarm) return;
  clearInterval(alarm.beat);
  alarm.context.close();
  alarm = null;
  document.body.dataset.alarm = "off";
}

/* ---- The supervisor's decision: outcome and reason beside the case, then ID and PIN ---- */

function setupSupervisor() {
  const form = $("supervisor");
  if (!form) return;
  const chosen = (name) => form.querySelector(`[data-choice="${name}"][aria-pressed="true"]`);
  for (const button of form.querySelectorAll("[data-choice]")) {
    button.addEventListener("click", () => {
      for (const other of form.querySelectorAll(`[data-choice="${button.dataset.choice}"]`)) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      $(button.dataset.choice === "outcome" ? "outcome" : "outcome-reason").value = button.dataset.value;
      $("sup-needed").textContent = "";
    });
  }
  function confirmStep() {
    const outcome = chosen("outcome");
    const reason = chosen("reason");
    const note = $("outcome_note").value.trim();
    const needed = !outcome ? t("sup_needed_outcome") : !reason ? t("sup_needed_reason")
      : reason.dataset.value === "other" && !note ? t("sup_needed_note") : "";
    $("sup-needed").textContent = needed;
    if (needed) return;
    $("sup-summary").textContent = outcome.textContent.trim() + " — " + reason.textContent.trim() + (note ? " — " + note : "");
    form.dataset.step = "confirm";
    const id = $("supervisor_id");
    (id.value ? $("supervisor_pin") : id).focus();
  }
  $("sup-next").addEventListener("click", confirmStep);
  $("sup-back").addEventListener("click", () => { form.dataset.step = "decide"; });
  // Back from a refused PIN: the decision is kept, only the PIN is typed again.
  if (form.dataset.step === "confirm" && !form.hidden) confirmStep();
}

/* ---- The new-crossing steps ------------------------------------------------------ */

const STEPS = ["document", "photo", "fingerprint", "record"];
// The live view asks for a frame this long after the last one arrived (at most ~4 per
// second, fewer when the board is slow), and retries a failing camera this often.
const PREVIEW_INTERVAL_MS = 250;
const PREVIEW_RETRY_MS = 2000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function setupCrossing() {
  const configNode = $("crossing-config");
  if (!configNode) return;
  const config = JSON.parse(configNode.textContent);
  // mode: "reader" (the MRZ reader), "mrz" (the MRZ typed) or "fields" (the fields typed,
  // for a document without a usable MRZ); manual is true in both typed modes.
  const state = { direction: config.direction, mrz: null, document: null, sex: "", captures: {}, unavailable: {},
    step: null, manual: false, mode: "reader", capturing: false };

  function showStep(name) {
    state.step = name;
    for (const section of document.querySelectorAll(".step")) section.hidden = section.id !== "step-" + name;
    const index = STEPS.indexOf(name);
    document.querySelectorAll(".progress li[data-step]").forEach((item, position) => {
      item.classList.toggle("current", position === index);
      item.classList.toggle("done", index >= 0 && position < index);
      if (position === index) item.setAttribute("aria-current", "step"); else item.removeAttribute("aria-current");
    });
    if (name === "purpose" && $("visa-line")) {
      $("visa-line").hidden = !state.visa;
      if (state.visa) {
        $("visa-line").textContent = config.visa_text.split("{type}").join(state.visa.type)
          .split("{number}").join(state.visa.number);
      }
    }
    if (name === "purpose") {
      // The purpose question is the result step: the last of the progress bar.
      document.querySelectorAll(".progress li[data-step]").forEach((item, position) => {
        item.classList.toggle("current", position === 3);
        item.classList.toggle("done", position < 3);
        if (position === 3) item.setAttribute("aria-current", "step"); else item.removeAttribute("aria-current");
      });
    }
    if (name === "document") startReader();
    if (name === "photo" || name === "fingerprint") enterCapture(name);
    if (name === "photo") startPreview(); else stopPreview();
    if (name === "record") record();
    // Not on "record": the record call itself drops the draft, and a late save would bring it back.
    if (name === "photo" || name === "fingerprint") saveDraft(name);
  }

  /* The crossing in progress, kept on the kiosk for this officer (PUT /ui/draft): a
     reload, a browser Back or a new login picks it up. Captures are named by id only;
     they stay encrypted on the kiosk. */
  async function saveDraft(step) {
    if (!state.direction || !(state.mrz || state.document)) return;
    try {
      await api("PUT", "/ui/draft", { direction: state.direction, step: step || state.step, mode: state.mode,
        mrz: state.mrz, document: state.document, captures: state.captures, unavailable: state.unavailable });
    } catch (error) { /* the next step saves again */ }
  }

  // Cancel drops the crossing in progress; any other way off the screen keeps it.
  for (const link of document.querySelectorAll('.step a[href="/"]')) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      try { await api("DELETE", "/ui/draft"); } catch (error) { /* gone with the session */ }
      window.location.href = "/";
    });
  }

  /* Direction */
  for (const button of document.querySelectorAll("[data-direction]")) {
    button.addEventListener("click", () => {
      state.direction = button.dataset.direction;
      $("direction-tag").textContent = config.direction_text[state.direction];
      showStep("document");
    });
  }

  /* Document: the reader, or the MRZ typed by hand */
  let readerRun = 0;
  function readerStatus(text, bad = false) {
    $("reader-status").textContent = text;
    $("reader-status").classList.toggle("bad", bad);
  }

  async function startReader() {
    if (state.manual || state.mrz) return;
    const run = ++readerRun;
    readerStatus(t("reader_waiting"));
    while (run === readerRun && state.step === "document" && !state.manual && !state.mrz) {
      let answer;
      try {
        answer = await api("POST", "/api/reader/read?timeout=2");
      } catch (error) {
        readerStatus(t("network_error"), true);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        continue;
      }
      if (run !== readerRun || state.manual) return;
      if (answer.ok && answer.data.mrz) {
        readerStatus(t("reader_read"));
        const feedback = await checkMrz(answer.data.mrz);
        if (feedback) acceptDocument(feedback);
        return;
      }
      if (answer.ok) continue;
      if (answer.status === 422) {
        readerStatus(t("reader_bad"), true);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        continue;
      }
      readerStatus(t("reader_unavailable"), true);
      openManual();
      // The reader's status line hides with the reader: the same words under the typing box.
      if (!$("mrz-text").value.trim()) $("mrz-message").textContent = t("reader_unavailable");
      return;
    }
  }

  async function checkMrz(text) {
    try {
      const answer = await api("POST", "/ui/mrz-check", { text });
      return answer.ok ? answer.data : null;
    } catch (error) {
      readerStatus(t("network_error"), true);
      return null;
    }
  }

  function renderChecks(list, checks) {
    list.innerHTML = "";
    for (const check of checks) {
      const item = document.createElement("li");
      item.className = check.ok ? "ok" : "bad";
      item.dataset.check = check.name;
      item.textContent = check.ok ? config.check_text[check.name]
        : t("field_problem", { field: config.check_text[check.name], message: t("check_failed") });
      list.appendChild(item);
    }
  }

  /* The document's own problems (expired, a check digit, typed by hand), listed apart
     from the check-digit ticks so "✔ Expiry date" is never read as "not expired". */
  // A date never breaks at its dashes (U+2011 is a hyphen that does not break).
  const unbroken = (text) => text.replace(/(\d{4})-(\d{2})-(\d{2})/g, "$1\u2011$2\u2011$3");

  function problemTexts(feedback) {
    return ((feedback && feedback.problems) || []).map((problem) => unbroken(problem.text));
  }

  function renderProblems(texts) {
    const list = $("doc-problems");
    list.innerHTML = "";
    for (const text of texts) {
      const item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    }
    list.hidden = texts.length === 0;
  }

  function acceptDocument(feedback) {
    state.mrz = feedback.mrz;
    const fields = feedback.fields;
    // A visa (MRV) read: the kiosk records its number and type with the crossing.
    state.visa = fields.format === "MRVA" || fields.format === "MRVB"
      ? { type: fields.document_code, number: fields.document_number } : null;
    $("doc-name").textContent = fields.surname + (fields.given_names ? ", " + fields.given_names : "");
    $("doc-number").textContent = fields.document_number + " (" + fields.issuing_state + ")";
    $("doc-nationality").textContent = fields.nationality;
    $("doc-birth").textContent = fields.birth_date || "?";
    $("doc-expiry").textContent = fields.expiry_date || "?";
    if (!state.manual) {
      $("doc-summary").hidden = false;
      renderChecks($("doc-checks"), feedback.checks);
      $("doc-checks").hidden = false;
      $("doc-rescan").hidden = false;
      renderProblems(problemTexts(feedback));
    }
    if (!feedback.valid) readerStatus(t("mrz_problem_refer"), true);
    else if (problemTexts(feedback).length) {
      readerStatus(config.refer_manual ? t("document_problem_refer") : t("document_problem"), true);
    }
    $("doc-next").disabled = false;
  }

  function useMode(mode) {
    state.mode = mode;
    state.manual = mode !== "reader";
    state.mrz = null;
    state.document = null;
    readerRun++;
    $("manual").hidden = mode !== "mrz";
    $("doc-form").hidden = mode !== "fields";
    $("document-title").classList.toggle("visually-hidden", mode !== "reader");
    $("doc-summary").hidden = true;
    $("doc-checks").hidden = true;
    renderProblems([]);
    $("doc-manual").hidden = mode === "mrz";
    $("doc-fields").hidden = mode === "fields";
    $("doc-rescan").hidden = mode === "reader";
    $("reader-status").hidden = mode !== "reader";
    $("doc-next").disabled = true;
  }

  function openManual() {
    useMode("mrz");
    $("mrz-text").focus();
    // Back from the fields: what was typed before is checked again.
    if ($("mrz-text").value.trim()) $("mrz-text").dispatchEvent(new Event("input"));
  }

  let typing = null;
  $("mrz-text").addEventListener("input", () => {
    clearTimeout(typing);
    state.mrz = null;
    $("doc-next").disabled = true;
    typing = setTimeout(async () => {
      const text = $("mrz-text").value;
      if (!text.trim()) { $("mrz-checks").innerHTML = ""; $("mrz-message").textContent = ""; return; }
      const feedback = await checkMrz(text);
      if (!feedback || $("mrz-text").value !== text || state.mode !== "mrz") return;
      renderChecks($("mrz-checks"), feedback.checks);
      if (feedback.complete) {
        const f = feedback.fields;
        const problems = problemTexts(feedback);
        $("mrz-message").textContent = [f.surname + (f.given_names ? ", " + f.given_names : ""), f.document_number,
          f.nationality].join(" · ") + (feedback.valid ? "" : " — " + t("mrz_problem_refer"))
          + (feedback.valid && problems.length ? " — " + t("problems", { problems: problems.join("; ") }) : "");
        $("mrz-message").classList.toggle("bad", problems.length > 0);
        acceptDocument(feedback);
      } else {
        $("mrz-message").textContent = t("mrz_incomplete", { detail: feedback.message });
      }
    }, 150);
  });

  /* Document: the fields typed one by one, for a document without a usable MRZ. Each
     change is checked by the workflow's own rules (POST /ui/document-check); a field is
     marked wrong once it holds something or the officer has left it. */
  const fieldInputs = Array.from(document.querySelectorAll("#doc-form input[name]"));
  const fieldCells = Array.from(document.querySelectorAll("#doc-form [data-field]"));
  const touched = new Set();
  let fieldsRun = 0;
  let fieldsTimer = null;
  let fieldsFeedback = null;

  function formatDate(value) {
    // Digits only from the keypad; the dashes of YYYY-MM-DD are put in while typing. A
    // partial date of birth is left as it is: "1975" stays "1975", "197503" becomes "1975-03".
    const digits = value.replace(/\D/g, "").slice(0, 8);
    return digits.slice(0, 4) + (digits.length > 4 ? "-" + digits.slice(4, 6) : "")
      + (digits.length > 6 ? "-" + digits.slice(6) : "");
  }

  function fieldValues() {
    const values = {};
    for (const input of fieldInputs) values[input.name] = input.value;
    values.sex = state.sex;
    return values;
  }

  function fieldLabel(name) {
    // The field's full name (the box's own label may be shortened to fit, "Naissance").
    const box = document.querySelector(`#doc-form [data-field="${name}"]`);
    return box && box.dataset.name ? box.dataset.name : name;
  }

  function overflows(input) { return input.scrollWidth > input.clientWidth + 1; }

  function fieldShown(name) {
    const input = $("f-" + name);
    return touched.has(name) || !input || input.value.trim() !== "";
  }

  function renderFields() {
    const errors = (fieldsFeedback && fieldsFeedback.errors) || {};
    for (const cell of fieldCells) {
      const name = cell.dataset.field;
      const bad = Boolean(errors[name]) && fieldShown(name);
      cell.classList.toggle("bad", bad);
      const input = $("f-" + name);
      if (input && bad) input.setAttribute("aria-invalid", "true");
      else if (input) input.removeAttribute("aria-invalid");
    }
    const errorsShown = fieldCells.map((cell) => cell.dataset.field).filter((name) => errors[name] && fieldShown(name));
    const active = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("#doc-form [data-field]") : null;
    const focused = active ? active.dataset.field : null;
    const message = $("field-message");
    const pick = focused && errorsShown.includes(focused) ? focused : errorsShown[0];
    let text = "";
    let warn = false;
    if (pick) text = t("field_problem", { field: fieldLabel(pick), message: errors[pick] });
    else if (focused && $("f-" + focused) && overflows($("f-" + focused))) {
      // A long name does not fit its box: the line under the fields shows it whole (never cut).
      text = t("field_problem", { field: fieldLabel(focused), message: $("f-" + focused).value });
    }
    else if (state.document) {
      // Typed by hand is always true here, and an empty expiry field shows itself: any other
      // problem (an expired document) is named.
      const others = ((fieldsFeedback && fieldsFeedback.problems) || [])
        .filter((problem) => !["document.typed", "document.no_expiry"].includes(problem.code))
        .map((problem) => unbroken(problem.text));
      if (others.length) {
        text = t(config.refer_manual ? "fields_problems_refer" : "fields_problems", { problems: others.join("; ") });
        warn = true;
      } else text = config.refer_manual ? t("fields_refer") : t("fields_ok");
    }
    else if (focused && $("f-" + focused)) text = t("field_problem", { field: fieldLabel(focused), message: $("f-" + focused).dataset.rule });
    else if (fieldsFeedback) {
      const needed = fieldCells.map((cell) => cell.dataset.field).filter((name) => errors[name]).map(fieldLabel);
      if (needed.length) text = t("fields_needed", { fields: needed.join(", ") });
    }
    message.textContent = text;
    message.classList.toggle("bad", Boolean(pick));
    message.classList.toggle("warn", warn);
  }

  async function checkFields() {
    const run = ++fieldsRun;
    let answer;
    try {
      answer = await api("POST", "/ui/document-check", { fields: fieldValues() });
    } catch (error) {
      $("field-message").textContent = t("network_error");
      return;
    }
    if (run !== fieldsRun || state.mode !== "fields") return;
    if (!answer.ok) {
      $("field-message").textContent = errorText(answer.data);
      return;
    }
    fieldsFeedback = answer.data;
    state.document = answer.data.valid ? answer.data.document : null;
    $("doc-next").disabled = !state.document;
    renderFields();
  }

  function fieldsChanged() {
    state.document = null;
    $("doc-next").disabled = true;
    clearTimeout(fieldsTimer);
    fieldsTimer = setTimeout(checkFields, 150);
  }

  for (const input of fieldInputs) {
    input.addEventListener("input", () => {
      const value = input.dataset.format === "date" ? formatDate(input.value) : input.value.toUpperCase();
      if (value !== input.value) input.value = value;
      fieldsChanged();
    });
    input.addEventListener("focus", renderFields);
    input.addEventListener("blur", () => { touched.add(input.name); renderFields(); });
  }
  for (const button of document.querySelectorAll("#doc-form [data-sex]")) {
    // Like a key: the text field keeps the focus.
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => {
      state.sex = state.sex === button.dataset.sex ? "" : button.dataset.sex;
      for (const other of document.querySelectorAll("#doc-form [data-sex]")) {
        other.setAttribute("aria-pressed", String(other.dataset.sex === state.sex));
      }
      fieldsChanged();
    });
  }

  function openFields() {
    useMode("fields");
    $("f-surname").focus();
    checkFields();
  }

  function clearFields() {
    for (const input of fieldInputs) { input.value = ""; input.removeAttribute("aria-invalid"); }
    for (const cell of fieldCells) cell.classList.remove("bad");
    for (const button of document.querySelectorAll("#doc-form [data-sex]")) button.setAttribute("aria-pressed", "false");
    state.sex = "";
    touched.clear();
    fieldsFeedback = null;
    $("field-message").textContent = "";
  }

  $("doc-manual").addEventListener("click", openManual);
  $("doc-fields").addEventListener("click", openFields);
  $("doc-rescan").addEventListener("click", () => {
    useMode("reader");
    $("mrz-text").value = "";
    $("mrz-checks").innerHTML = "";
    $("mrz-message").textContent = "";
    clearFields();
    startReader();
  });
  $("doc-next").addEventListener("click", () => {
    if (state.mrz || state.document) { readerRun++; showStep("photo"); }
  });

  /* Photo: a live view from the camera while the step is open, one small frame at a time
     (GET /ui/camera/preview, never stored); it pauses during a capture and stops when
     the step is left. */
  let previewRun = 0;
  let previewUrl = null;

  function stopPreview() { previewRun++; }

  async function startPreview() {
    if (config.unavailable && config.unavailable.photo) {
      $("photo-live-box").hidden = true;
      return;
    }
    const run = ++previewRun;
    const image = $("photo-live");
    const status = $("photo-live-status");
    while (run === previewRun && state.step === "photo") {
      if (state.capturing) { await sleep(PREVIEW_INTERVAL_MS); continue; }
      let response;
      try {
        response = await fetch("/ui/camera/preview", { credentials: "same-origin", cache: "no-store",
          headers: { "X-Kiosk-UI": "1" } });
      } catch (error) {
        status.textContent = t("network_error");
        await sleep(PREVIEW_RETRY_MS);
        continue;
      }
      if (response.status === 401) {
        sessionEnded();
        return;
      }
      if (response.ok) {
        const url = URL.createObjectURL(await response.blob());
        if (run !== previewRun) { URL.revokeObjectURL(url); return; }
        await new Promise((resolve) => { image.onload = resolve; image.onerror = resolve; image.src = url; });
        if (previewUrl) URL.revokeObjectURL(previewUrl);
        previewUrl = url;
        image.hidden = false;
        status.textContent = "";
        image.dataset.frames = String(parseInt(image.dataset.frames || "0", 10) + 1);
        await sleep(PREVIEW_INTERVAL_MS);
      } else {
        image.hidden = true;
        status.textContent = t("preview_unavailable");
        await sleep(PREVIEW_RETRY_MS);
      }
    }
  }

  /* Photo and fingerprint: capture, retake, or record why there is none */
  const NEXT = { photo: "fingerprint", fingerprint: config.ask_purpose ? "purpose" : "record" };

  function markUnavailable(kind, reason, text) {
    delete state.captures[kind];
    state.unavailable[kind] = reason;
    $(kind + "-status").textContent = text;
    $(kind + "-accept").disabled = false;
  }

  function enterCapture(kind) {
    const missing = config.unavailable && config.unavailable[kind];
    if (missing && !state.captures[kind]) {
      markUnavailable(kind, missing.reason, t("capture_unavailable", { detail: missing.text }));
      $(kind + "-take").hidden = true;
      $(kind + "-skip").hidden = true;
    }
  }

  async function capture(kind) {
    const take = $(kind + "-take");
    take.disabled = true;
    state.capturing = true;
    $(kind + "-status").textContent = t("capturing");
    $(kind + "-hints").innerHTML = "";
    $(kind + "-reasons").hidden = true;
    let answer;
    try {
      answer = await api("POST", "/api/captures/" + kind);
    } catch (error) {
      take.disabled = false;
      $(kind + "-status").textContent = t("network_error");
      return;
    } finally {
      take.disabled = false;
      state.capturing = false;
    }
    if (answer.status === 201) {
      state.captures[kind] = answer.data.capture_id;
      delete state.unavailable[kind];
      const quality = answer.data.quality || { ok: true, hints: [] };
      $(kind + "-status").textContent = quality.ok ? t("capture_ok") : t("capture_poor");
      for (const hint of quality.hints || []) {
        const item = document.createElement("li");
        item.textContent = hint;
        $(kind + "-hints").appendChild(item);
      }
      if (kind === "photo" && answer.data.preview) {
        $("photo-preview").src = answer.data.preview;
        $("photo-preview").hidden = false;
      }
      take.textContent = t("retake");
      $(kind + "-accept").disabled = false;
      saveDraft();
    } else if (answer.status === 404 || answer.status === 405) {
      // The reason the kiosk's own missing_captures gives, so it has its code (unavailable.not_installed).
      markUnavailable(kind, kind + " capture is not installed on this kiosk",
        t("capture_unavailable", { detail: t("not_installed") }));
    } else {
      // Stored as the reason an officer would pick ("device not working"): HQ and the result
      // screen read a reason, not the device's own words.
      markUnavailable(kind, "device not working", deviceFailure(kind === "photo" ? "camera" : "fingerprint", answer.data));
    }
  }

  for (const kind of ["photo", "fingerprint"]) {
    $(kind + "-take").addEventListener("click", () => capture(kind));
    $(kind + "-skip").addEventListener("click", () => { $(kind + "-reasons").hidden = false; });
    for (const button of $(kind + "-reasons").querySelectorAll("[data-reason]")) {
      button.addEventListener("click", () => {
        delete state.captures[kind];
        state.unavailable[kind] = button.dataset.reason;
        showStep(NEXT[kind]);
      });
    }
    $(kind + "-accept").addEventListener("click", () => showStep(NEXT[kind]));
  }

  /* Purpose of travel: one tap records the crossing. An MRV read says its visa here. */
  for (const button of document.querySelectorAll("[data-purpose]")) {
    button.addEventListener("click", () => {
      state.purpose = button.dataset.purpose;
      showStep("record");
    });
  }

  /* Record: one call; the answer comes only once the crossing is durably stored. One
     request id per traveller: a second tap, or "Try again" after a lost answer, repeats
     the same call and the kiosk answers the crossing the first one recorded. */
  const requestId = newRequestId();
  let recording = false;
  async function record() {
    if (recording) return;
    recording = true;
    try { await recordOnce(); } finally { recording = false; }
  }
  async function recordOnce() {
    $("record-retry").hidden = true;
    $("record-status").textContent = t("recording");
    const body = state.document ? { direction: state.direction, document: state.document }
      : { direction: state.direction, mrz: state.mrz };
    body.request_id = requestId;
    if (state.purpose) body.purpose = state.purpose;
    if (config.capture_fields) {
      const ids = Object.values(state.captures).filter(Boolean);
      if (ids.length) body.capture_ids = ids;
      if (Object.keys(state.unavailable).length) body.unavailable = state.unavailable;
    }
    let answer;
    try {
      answer = await api("POST", "/api/crossings", body);
    } catch (error) {
      $("record-status").textContent = t("record_failed", { detail: t("network_error") });
      $("record-retry").hidden = false;
      return;
    }
    if (answer.status === 201) {
      window.location.href = "/crossings/" + encodeURIComponent(answer.data.id) + "?new=1";
      return;
    }
    $("record-status").textContent = t("record_failed", { detail: errorText(answer.data) });
    $("record-retry").hidden = false;
  }
  $("record-retry").addEventListener("click", record);

  const draft = config.draft;
  if (draft && ["photo", "fingerprint", "record"].includes(draft.step) && (draft.mrz || draft.document)) {
    // Back where the officer was; a record call that did not answer is offered again from the last capture.
    Object.assign(state, { direction: draft.direction, mode: draft.mode, manual: draft.mode !== "reader",
      mrz: draft.mrz, document: draft.document, captures: draft.captures || {}, unavailable: draft.unavailable || {} });
    $("direction-tag").textContent = config.direction_text[state.direction];
    const step = draft.step === "record" ? "fingerprint" : draft.step;
    for (const kind of ["photo", "fingerprint"]) {
      if (state.captures[kind]) {
        $(kind + "-status").textContent = t("capture_kept");
        $(kind + "-take").textContent = t("retake");
        $(kind + "-accept").disabled = false;
      } else if (state.unavailable[kind]) {
        // The reason as its button reads, in the officer's language; any other stored reason as the
        // crossing page rendered it from its code (draft.unavailable_text).
        const chosen = Array.from($(kind + "-reasons").querySelectorAll("[data-reason]"))
          .find((button) => button.dataset.reason === state.unavailable[kind]);
        const rendered = (draft.unavailable_text || {})[kind];
        $(kind + "-status").textContent = t("capture_unavailable",
          { detail: chosen ? chosen.textContent.trim() : rendered || state.unavailable[kind] });
        $(kind + "-accept").disabled = false;
      }
    }
    document.body.dataset.draft = "restored";
    showStep(step);
    if (!state.captures[step] && !state.unavailable[step]) $(step + "-status").textContent = t("draft_restored");
    return;
  }
  showStep(state.direction ? "document" : "direction");
}

document.addEventListener("DOMContentLoaded", () => {
  setupKeyboards();
  setupStatusBar();
  setupIdleLogout();
  setupToggles();
  setupSupervisor();
  setupCrossing();
  const verdict = $("verdict");
  if (verdict && verdict.dataset.alarm === "1") startAlarm();
  const focused = document.querySelector("[autofocus]");
  if (focused) focused.focus();
});
