// Small progressive enhancements; every page works without them. No inline scripts (CSP: script-src 'self').
document.addEventListener("DOMContentLoaded", () => {
  // Ask before destructive or irreversible actions: <form data-confirm="...">.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Auto-submit filter selects: <select data-autosubmit>.
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});
