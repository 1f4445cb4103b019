// SMS preview: ask the server for the exact message, segments and warnings as the marketer types.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var body = document.getElementById("body");
  var locale = document.getElementById("locale");
  var first = document.getElementById("first");
  var timer = null;

  function text(id, value) { document.getElementById(id).textContent = value; }

  function show(data) {
    text("message", data.message);
    var a = data.analysis;
    var budget = document.getElementById("budget");
    text("budget", budget.dataset.footer + " " + data.footer_budget.units + " · " +
         data.footer_budget.left_in_one_sms + " " + budget.dataset.left);
    var summary = document.getElementById("summary");
    text("summary", a.encoding + " · " + a.units + " · " + a.segments + " " +
         summary.dataset.segments + " · " + a.remaining + " " + summary.dataset.left);
    var ruler = document.getElementById("ruler");
    ruler.replaceChildren();
    data.segments_text.forEach(function (chunk, i) {
      var li = document.createElement("li");
      li.textContent = "[" + a.per_segment[i] + "] " + chunk;
      ruler.appendChild(li);
    });
    var warnings = document.getElementById("warnings");
    warnings.replaceChildren();
    data.warnings.forEach(function (w) {
      var li = document.createElement("li");
      li.textContent = w.code + ": " + w.message;
      warnings.appendChild(li);
    });
    var box = document.getElementById("suggestion-box");
    box.hidden = !data.suggestion;
    if (data.suggestion) { text("suggestion", data.suggestion); }
  }

  function update() {
    if (!body.value.trim()) { return; }
    fetch("/api/sms/preview", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ body: body.value, locale: locale.value, first_contact: first.checked })
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (data.error) { text("summary", data.error); } else { show(data); }
    });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(update, 150); }
  body.addEventListener("input", soon);
  locale.addEventListener("change", update);
  first.addEventListener("change", update);
  document.getElementById("apply").addEventListener("click", function () {
    body.value = document.getElementById("suggestion").textContent;
    update();
  });
}());
