// Progressive enhancement only: every form works without this file.
// Disable the submit button of [data-once] forms after the first submit (the server's Idempotency-Key
// already makes a double submit place one order; this just avoids the second request).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-once")) return;
  if (form.dataset.submitted) { event.preventDefault(); return; }
  form.dataset.submitted = "1";
  var button = form.querySelector("button[type=submit]");
  if (button) { button.setAttribute("aria-disabled", "true"); button.textContent = "Please wait…"; }
});
