// The registry's progressive enhancements (CSP: script-src 'self', no inline code). Every page works without them:
// all characteristic groups show, the customer is found by tax code or exact name, the import page reloads.
"use strict";

(() => {
  const setBar = (bar, fraction) => {
    const percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    bar.style.width = `${percent}%`;  // CSSOM, allowed by style-src 'self' (a style attribute would not be)
    bar.textContent = `${percent}%`;
    const holder = bar.closest("[role=progressbar]");
    if (holder) holder.setAttribute("aria-valuenow", String(percent));
  };

  // Instrument form: show only the characteristics of the chosen type.
  const initSpecSwitch = () => {
    document.querySelectorAll("select[data-spec-switch]").forEach((select) => {
      const groups = select.form.querySelectorAll("[data-spec-type]");
      const update = () => {
        groups.forEach((group) => group.classList.toggle("d-none", group.dataset.specType !== select.value));
      };
      select.addEventListener("change", update);
      update();
    });
  };

  // Customer picker: suggestions by name (without accents) or tax code.
  const initCustomerLookup = () => {
    document.querySelectorAll("input[data-customer-lookup]").forEach((input) => {
      const target = document.getElementById(input.dataset.target);
      const list = document.querySelector(`[data-suggestions-for="${input.id}"]`);
      let timer = null;
      let request = 0;
      const hide = () => list.classList.add("d-none");
      const show = (items) => {
        list.replaceChildren();
        items.forEach((item) => {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "list-group-item list-group-item-action";
          button.dataset.testid = "customer-suggestion";
          const name = document.createElement("div");
          name.textContent = item.label;
          const where = document.createElement("div");
          where.className = "small text-muted";
          where.textContent = [item.address, item.district].filter(Boolean).join(", ");
          button.append(name, where);
          button.addEventListener("click", () => {
            target.value = item.id;
            input.value = item.label;
            hide();
          });
          list.append(button);
        });
        list.classList.toggle("d-none", items.length === 0);
      };
      input.addEventListener("input", () => {
        target.value = "";
        clearTimeout(timer);
        const q = input.value.trim();
        if (q.length < 2) { hide(); return; }
        timer = setTimeout(async () => {
          const mine = ++request;
          const response = await fetch(`${input.dataset.lookupUrl}?q=${encodeURIComponent(q)}`,
                                       { headers: { Accept: "application/json" } });
          if (response.ok && mine === request) show(await response.json());
        }, 200);
      });
      input.addEventListener("keydown", (event) => { if (event.key === "Escape") hide(); });
      document.addEventListener("click", (event) => {
        if (!list.contains(event.target) && event.target !== input) hide();
      });
    });
  };

  const poll = (url, bar, onRows, onDone) => {
    const tick = async () => {
      let state = null;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) state = await response.json();
      } catch (error) { state = null; }
      if (state) {
        setBar(bar, state.fraction || 0);
        onRows(state.rows || 0);
        if (state.state !== "queued" && state.state !== "running") { onDone(state); return; }
      }
      setTimeout(tick, 700);
    };
    tick();
  };

  // Import form: upload with a progress bar, then follow the import's progress, then show the result page.
  const initImportForm = () => {
    const form = document.querySelector("form[data-import-form]");
    if (!form) return;
    const box = form.querySelector("[data-import-progress]");
    const bar = form.querySelector("[data-import-bar]");
    const phase = form.querySelector("[data-import-phase]");
    const error = form.querySelector("[data-import-error]");
    const button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", (event) => {
      if (!form.querySelector("input[type=file]").files.length) return;  // let the server say "choose a file"
      event.preventDefault();
      box.classList.remove("d-none");
      error.classList.add("d-none");
      button.disabled = true;
      setBar(bar, 0);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) setBar(bar, e.loaded / e.total); });
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 200 && body && body.progress_url) {
          phase.textContent = form.dataset.checking || "…";
          setBar(bar, 0);
          poll(body.progress_url, bar, (rows) => { phase.textContent = `${form.dataset.checking || ""} ${rows}`; },
               () => { window.location.assign(body.status_url); });
          return;
        }
        button.disabled = false;
        const messages = body && (body.errors ? Object.values(body.errors).flat() : [body.message]);
        error.textContent = (messages && messages.filter(Boolean).join(" ")) || `HTTP ${xhr.status}`;
        error.classList.remove("d-none");
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        error.textContent = form.dataset.networkError || "Network error";
        error.classList.remove("d-none");
      });
      xhr.send(new FormData(form));
    });
  };

  // Import status page: follow a running import, then reload to show its result.
  const initImportJob = () => {
    const box = document.querySelector("[data-import-job]");
    if (!box) return;
    const bar = box.querySelector("[data-import-bar]");
    const rows = box.querySelector("[data-import-rows]");
    poll(box.dataset.importJob, bar, (n) => { rows.textContent = String(n); }, () => window.location.reload());
  };

  document.addEventListener("DOMContentLoaded", () => {
    initSpecSwitch();
    initCustomerLookup();
    initImportForm();
    initImportJob();
  });
})();
