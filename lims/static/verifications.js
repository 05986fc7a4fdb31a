// The live data-entry sheet of a verification record (CSP: script-src 'self', no inline code). As the technician
// types, the sheet is sent to the server, which runs the metrology engine and answers with the errors, MPE and
// verdict of every row; they are shown without reloading the page. Without this script the page still works: the
// "Save" button posts the sheet and the server shows the same figures after the reload.
"use strict";

(() => {
  const form = document.querySelector("form[data-evaluate-url]");
  if (!form) return;
  const token = (form.querySelector("input[name=csrf_token]") || {}).value || "";
  const status = form.querySelector("[data-eval-status]");
  const esc = (value) => (window.CSS && CSS.escape ? CSS.escape(value) : value.replace(/(["\\\[\].:])/g, "\\$1"));
  let timer = null;
  let sequence = 0;

  const collect = () => {
    const values = {};
    form.querySelectorAll("[data-entry]").forEach((input) => { values[input.name] = input.value; });
    return values;
  };

  const setStatus = (key) => {
    if (!status) return;
    status.textContent = key ? status.dataset[key] || "" : "";
    status.className = `ms-2 small ${key === "failed" ? "text-danger" : "text-muted"}`;
  };

  const apply = (data) => {
    form.querySelectorAll("[data-cell]").forEach((cell) => {
      cell.textContent = "";
      cell.classList.remove("text-danger", "text-success", "fw-semibold");
    });
    form.querySelectorAll("[data-error-for]").forEach((holder) => { holder.textContent = ""; });
    form.querySelectorAll("[data-entry].is-invalid").forEach((input) => input.classList.remove("is-invalid"));
    form.querySelectorAll("tr[data-row]").forEach((row) => row.classList.remove("table-danger"));

    const unplaced = [];
    Object.entries(data.errors || {}).forEach(([name, message]) => {
      const holder = name ? form.querySelector(`[data-error-for="${esc(name)}"]`) : null;
      if (!holder) {
        unplaced.push(name ? `${name}: ${message}` : message);
        return;
      }
      holder.textContent = message;
      const input = form.querySelector(`[data-entry][name="${esc(name)}"]`);
      if (input) input.classList.add("is-invalid");
    });
    const general = form.querySelector('[data-error-for=""]');
    if (general) {
      general.textContent = unplaced.join(" · ");
      general.classList.toggle("d-none", unplaced.length === 0);
    }

    Object.entries(data.cells || {}).forEach(([rowId, cells]) => {
      const failed = Boolean((data.failed || {})[rowId]);
      Object.entries(cells).forEach(([key, text]) => {
        const cell = form.querySelector(`[data-cell="${esc(`${rowId}:${key}`)}"]`);
        if (!cell) return;
        cell.textContent = text;
        if (key === "passed" && text) cell.classList.add("fw-semibold", failed ? "text-danger" : "text-success");
      });
      const row = form.querySelector(`tr[data-row="${esc(rowId)}"]`);
      if (row && failed) row.classList.add("table-danger");
    });

    form.querySelectorAll("[data-test-verdict]").forEach((badge) => {
      const text = (data.tests || {})[badge.dataset.testVerdict] || "";
      badge.textContent = text;
      badge.classList.toggle("text-bg-success", text !== "" && !text.startsWith("Không") && !text.startsWith("Fail"));
      badge.classList.toggle("text-bg-danger", text.startsWith("Không") || text.startsWith("Fail"));
    });

    const verdict = form.querySelector("[data-verdict]");
    if (verdict) {
      verdict.textContent = data.verdict || "—";
      verdict.classList.toggle("text-bg-success", data.passed === true);
      verdict.classList.toggle("text-bg-danger", data.passed === false);
      verdict.classList.toggle("text-bg-secondary", data.passed !== true && data.passed !== false);
    }
    const summary = form.querySelector("[data-summary]");
    if (summary) {
      summary.replaceChildren();
      (data.summary || []).forEach(([label, value]) => {
        const term = document.createElement("dt");
        term.className = "col-sm-5";
        term.textContent = label;
        const definition = document.createElement("dd");
        definition.className = "col-sm-7";
        definition.textContent = value;
        summary.append(term, definition);
      });
    }
  };

  const evaluate = async () => {
    sequence += 1;
    const mine = sequence;
    setStatus("busy");
    try {
      const response = await fetch(form.dataset.evaluateUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
        body: JSON.stringify({ values: collect() }),
      });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      if (mine !== sequence) return; // a newer request is on its way; its answer wins
      apply(data);
      form.dataset.evaluated = String(mine);
      setStatus("done");
    } catch (error) {
      if (mine === sequence) setStatus("failed");
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(evaluate, 250);
  };

  if (form.dataset.evaluation) {
    try {
      const initial = JSON.parse(form.dataset.evaluation);
      if (initial && initial.errors) apply(initial);
    } catch (error) {
      setStatus("failed");
    }
  }
  form.addEventListener("input", (event) => { if (event.target.matches("[data-entry]")) schedule(); });
  form.addEventListener("change", (event) => { if (event.target.matches("select[data-entry]")) schedule(); });
})();
