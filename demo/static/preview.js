// SMS preview: ask the server for the exact message as the marketer types, then draw it one
// cell per character (segment bands, non-GSM cells, the footer), the counters, warnings and the
// suggestions with what each saves. DOM methods only: text never goes through innerHTML.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var body = document.getElementById("body");
  var locale = document.getElementById("locale");
  var first = document.getElementById("first");
  var smart = document.getElementById("smart");
  var strings = document.getElementById("preview-strings").dataset;
  var result = document.getElementById("result");
  var status = document.getElementById("status");
  var error = document.getElementById("error");
  var empty = document.getElementById("empty");
  var sampleBox = document.getElementById("samples");
  var sampleFields = document.getElementById("sample-fields");
  var timer = null;
  var asked = 0;

  function byId(id) { return document.getElementById(id); }
  function text(id, value) { byId(id).textContent = value; }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }
  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }

  function clear(message) {
    result.hidden = true;
    status.textContent = "";
    if (message) {
      error.textContent = message;
      error.hidden = false;
      empty.hidden = true;
    } else {
      error.hidden = true;
      error.textContent = "";
      empty.hidden = false;
    }
  }

  function samples() {
    var values = {};
    sampleFields.querySelectorAll("input").forEach(function (input) {
      values[input.dataset.name] = input.value;
    });
    return values;
  }

  function showSamples(used) {
    var names = Object.keys(used || {});
    var kept = {};
    sampleFields.querySelectorAll("input").forEach(function (input) {
      kept[input.dataset.name] = input.value;
    });
    sampleFields.replaceChildren();
    names.forEach(function (name, i) {
      var id = "sample-" + i;
      var label = element("label", "", "{" + name + "}");
      label.htmlFor = id;
      var input = element("input");
      input.id = id;
      input.type = "text";
      input.dataset.name = name;
      input.value = Object.prototype.hasOwnProperty.call(kept, name) ? kept[name] : used[name];
      input.addEventListener("input", soon);
      sampleFields.append(label, input);
    });
    sampleBox.hidden = names.length === 0;
  }

  function showCells(data) {
    var box = byId("cells");
    box.replaceChildren();
    var segment = -1;
    data.cells.forEach(function (cell) {
      if (cell.segment !== segment) {
        segment = cell.segment;
        box.appendChild(element("span", "seg-label", fill(strings.segment, { n: segment + 1 })));
      }
      var span = element("span", "cell band-" + (cell.segment % 2), cell.shown);
      span.dataset.segment = String(cell.segment);
      span.dataset.gsm = cell.gsm ? "1" : "0";
      span.dataset.text = cell.text;
      var notes = [];
      if (cell.name) { notes.push(cell.name); }
      if (!cell.gsm) { span.classList.add("cell-ucs2"); notes.push(strings.nonGsm); }
      if (cell.extension) { span.classList.add("cell-ext"); notes.push(strings.extension); }
      if (cell.invisible) { span.classList.add("cell-invisible"); }
      if (cell.footer) { span.classList.add("cell-footer"); notes.push(strings.footerCell); }
      notes.push(fill(strings.segment, { n: cell.segment + 1 }));
      span.title = notes.join(" · ");
      box.appendChild(span);
    });
  }

  function showSuggestions(data) {
    var box = byId("suggestions");
    box.replaceChildren();
    data.suggestions.forEach(function (s) {
      var part = element("div", "suggestion");
      part.dataset.kind = s.kind;
      part.appendChild(element("h3", "", strings["kind" + s.kind.charAt(0).toUpperCase() + s.kind.slice(1)]));
      part.appendChild(element("p", "suggestion-text", s.body));
      var effect = s.saves
        ? fill(strings.beforeAfter, { before: s.segments_before, after: s.segments_after, encoding: s.encoding_after })
        : fill(strings.savesNothing, { after: s.segments_after });
      part.appendChild(element("p", "suggestion-effect", effect));
      if (s.saves) {
        var use = element("button", "", strings.use);
        use.type = "button";
        use.addEventListener("click", function () {
          body.value = s.body;
          body.focus();
          update();
        });
        part.appendChild(use);
      }
      box.appendChild(part);
    });
  }

  function show(data) {
    var a = data.analysis;
    error.hidden = true;
    empty.hidden = true;
    result.hidden = false;
    text("c-encoding", a.encoding);
    text("c-characters", data.characters);
    text("c-units", a.units);
    text("c-segments", a.segments);
    text("c-left", a.remaining);
    var budget = byId("budget");
    budget.textContent = fill(budget.dataset.text, {
      units: data.footer_budget.units, left: data.footer_budget.left_in_one_sms
    });
    showCells(data);
    var replaced = byId("replacements");
    replaced.replaceChildren();
    (a.replacements || []).forEach(function (r) {
      replaced.appendChild(element("li", "", r.original + " → " + (r.replacement || "∅")));
    });
    replaced.hidden = !(a.replacements && a.replacements.length);
    if (!replaced.hidden) { replaced.prepend(element("li", "replaced-title", strings.replaced)); }
    var warnings = byId("warnings");
    warnings.replaceChildren();
    data.warnings.forEach(function (w) {
      var li = element("li", "", w.message);
      li.dataset.code = w.code;
      warnings.appendChild(li);
    });
    showSuggestions(data);
    var ruler = byId("ruler");
    ruler.replaceChildren();
    data.segments_text.forEach(function (chunk, i) {
      ruler.appendChild(element("li", "band-" + (i % 2), "[" + a.per_segment[i] + "] " + chunk));
    });
    showSamples(data.placeholders);
    status.textContent = fill(strings.summary, { segments: a.segments, encoding: a.encoding });
  }

  function update() {
    clearTimeout(timer);
    if (!body.value.trim()) { asked += 1; clear(""); return; }
    var mine = ++asked;
    fetch("/api/sms/preview", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({
        body: body.value, locale: locale.value, first_contact: first.checked,
        smart_encoding: smart.checked, samples: samples()
      })
    }).then(function (r) {
      var json = (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      return (json ? r.json() : Promise.resolve({})).then(function (data) {
        return { ok: r.ok, data: data };
      });
    }).then(function (answer) {
      if (mine !== asked) { return; }  // a newer request is on its way
      if (answer.ok) { show(answer.data); } else { clear(answer.data.error || strings.failed); }
    }).catch(function () {
      if (mine === asked) { clear(strings.failed); }
    });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(update, 150); }
  body.addEventListener("input", soon);
  locale.addEventListener("change", update);
  first.addEventListener("change", update);
  smart.addEventListener("change", update);
  clear("");
}());
