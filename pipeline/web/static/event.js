// Event page: the reasons offered follow the chosen verdict (a dismissal cannot be "violation").
(function () {
  "use strict";
  const form = document.getElementById("verdict-form");
  if (!form) return;
  const reason = document.getElementById("reason");
  const allowed = {
    confirmed: form.dataset.confirmReasons.split(","),
    dismissed: form.dataset.dismissReasons.split(","),
  };
  function sync() {
    const v = form.querySelector('input[name="verdict"]:checked');
    if (!v) return;
    const ok = allowed[v.value];
    Array.from(reason.options).forEach(o => { o.disabled = !ok.includes(o.value); });
    if (!ok.includes(reason.value)) reason.value = ok[0];
  }
  form.querySelectorAll('input[name="verdict"]').forEach(r => r.addEventListener("change", sync));
  sync();
})();
