// quantcli serve: the few things the pages do in the browser. No inline scripts (the
// Content-Security-Policy forbids them), no libraries, no build step.
"use strict";

function $(selector, root) { return (root || document).querySelector(selector); }

async function detailOf(response) {
  try { return (await response.json()).detail || response.statusText; } catch (e) { return response.statusText; }
}

function formatSize(n) {
  for (const [unit, scale] of [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]]) {
    if (n >= scale) return (n / scale).toFixed(1).replace(/\.0$/, "") + " " + unit;
  }
  return n + " B";
}

// Forms that delete something ask first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.classList && form.classList.contains("confirm") && !window.confirm(form.dataset.confirm || "Sure?")) {
    event.preventDefault();
  }
});

// ---------------------------------------------------------------------------------------
// Upload page: create a job, send each file in its own request, then start the job.

function setupUpload(form) {
  const input = $("#files", form), drop = $("#drop", form), list = $("#file-list", form);
  const error = $("#form-error", form), submit = $("#submit", form), shared = $("#shared", form);
  const csrf = form.dataset.csrf, maxUpload = Number(form.dataset.maxUpload), maxImages = Number(form.dataset.maxImages);
  let files = [];

  function showFiles() {
    list.replaceChildren();
    for (const file of files) {
      const li = document.createElement("li");
      li.textContent = file.name + " (" + formatSize(file.size) + ")";
      list.append(li);
    }
  }
  input.addEventListener("change", () => { files = Array.from(input.files); showFiles(); });
  for (const kind of ["dragenter", "dragover"]) {
    drop.addEventListener(kind, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    files = Array.from(e.dataTransfer.files);
    showFiles();
  });
  const auto = $("#k-auto", form);
  function syncAuto() {
    const isAuto = auto.checked;
    shared.disabled = isAuto;
    if (isAuto) shared.checked = false;
  }
  for (const radio of form.querySelectorAll("input[name=k-mode]")) radio.addEventListener("change", syncAuto);

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    submit.disabled = false;
  }

  function sendFile(jobId, file, li) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", "/jobs/" + encodeURIComponent(jobId) + "/images?name=" + encodeURIComponent(file.name));
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) li.dataset.progress = Math.round(100 * e.loaded / e.total) + "%";
        li.textContent = file.name + ": uploading " + (li.dataset.progress || "");
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 201) {
          li.textContent = file.name + ": uploaded";
          li.className = "ok";
          resolve(true);
        } else {
          let detail = xhr.statusText;
          try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* not JSON */ }
          li.textContent = file.name + ": " + detail;
          li.className = "error";
          resolve(false);
        }
      });
      xhr.addEventListener("error", () => { li.textContent = file.name + ": upload failed"; li.className = "error"; resolve(false); });
      xhr.send(file);
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!files.length) return fail("Choose at least one image.");
    if (files.length > maxImages) return fail("At most " + maxImages + " images per job.");
    submit.disabled = true;
    const fields = new FormData();
    fields.append("csrf_token", csrf);
    if (auto.checked) {
      fields.append("k", "auto");
      const quality = $("#quality", form);
      if (quality && quality.value) fields.append("quality", quality.value);
    } else {
      fields.append("k", $("#k", form).value);
    }
    fields.append("dither", $("#dither", form).value);
    fields.append("shared", shared.checked ? "true" : "false");
    const created = await fetch("/jobs", { method: "POST", body: fields, headers: { Accept: "application/json" } });
    if (created.status !== 201) return fail(await detailOf(created));
    const job = await created.json();
    list.replaceChildren();
    let sent = 0;
    for (const file of files) {
      const li = document.createElement("li");
      list.append(li);
      if (file.size > maxUpload) {
        li.textContent = file.name + ": larger than " + formatSize(maxUpload);
        li.className = "error";
        const refused = new FormData();
        refused.append("csrf_token", csrf);
        refused.append("name", file.name);
        refused.append("size", String(file.size));
        await fetch("/jobs/" + encodeURIComponent(job.id) + "/refused", {
          method: "POST", body: refused, headers: { Accept: "application/json" },
        });
        continue;
      }
      if (await sendFile(job.id, file, li)) sent += 1;
    }
    if (!sent) return fail("No image could be uploaded.");
    const started = await fetch("/jobs/" + encodeURIComponent(job.id) + "/start", {
      method: "POST", headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
    });
    if (started.status !== 202) return fail(await detailOf(started));
    window.location.assign((await started.json()).url);
  });
}

// ---------------------------------------------------------------------------------------
// Job page: follow the progress, then show the results.

function setupProgress(box) {
  if (["done", "failed"].includes(box.dataset.status)) return;
  const bar = $("#progress-bar"), text = $("#progress-text");
  async function poll() {
    const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const p = await response.json();
      bar.value = p.percent;
      text.textContent = p.finished + " of " + p.total + " images finished (" + p.state + ")" +
        (p.refused ? "; " + p.refused + " file" + (p.refused === 1 ? "" : "s") + " refused" : "");
      if (p.status === "done" || p.status === "failed") { window.location.reload(); return; }
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 500);
}

// ---------------------------------------------------------------------------------------
// Result page: the before/after slider, and the choose-k curve once computed.

function setupCompare(slider) {
  const compare = $("#compare"), before = $("#before"), after = $("#after"), divider = $("#divider");
  const loupe = $("#loupe"), lensBefore = $(".loupe-before", loupe), lensAfter = $(".loupe-after", loupe);
  const lensDivider = $(".loupe-divider", loupe);
  const scale = Number(compare.dataset.scale) || 1;
  lensBefore.style.backgroundImage = 'url("' + before.src + '")';
  lensAfter.style.backgroundImage = 'url("' + after.src + '")';
  let pointer = null;  // where the loupe is, in CSS pixels of the shown image

  function place() {
    const v = Number(slider.value);
    after.style.clipPath = "inset(0 0 0 " + v + "%)";
    divider.style.left = v + "%";
    if (pointer) lens();
  }

  // The loupe shows the image's own pixels at 1:1 or larger (at least twice the view, so a
  // photo shown near its size, or a small image drawn larger, is magnified too), before
  // left and after right of the same divide as the view.
  function lens() {
    const shown = before.getBoundingClientRect();
    const natural = before.naturalWidth || Number(before.getAttribute("width")) / scale;
    const zoom = Math.max(natural / Math.max(shown.width, 1), 2);
    const size = loupe.offsetWidth, half = size / 2;
    const x = pointer.x, y = pointer.y;
    loupe.style.left = (x - half) + "px";
    loupe.style.top = (y - half) + "px";
    const width = shown.width * zoom + "px", height = shown.height * zoom + "px";
    const position = (half - x * zoom) + "px " + (half - y * zoom) + "px";
    for (const layer of [lensBefore, lensAfter]) {
      layer.style.backgroundSize = width + " " + height;
      layer.style.backgroundPosition = position;
    }
    const cut = half + (shown.width * Number(slider.value) / 100 - x) * zoom;
    const inLens = Math.min(Math.max(cut, 0), size);
    lensAfter.style.clipPath = "inset(0 0 0 " + inLens + "px)";
    lensDivider.style.left = inLens + "px";
    lensDivider.hidden = cut < 0 || cut > size;
    loupe.dataset.zoom = String(zoom);
  }

  function follow(event) {
    const box = compare.getBoundingClientRect();
    pointer = { x: event.clientX - box.left, y: event.clientY - box.top };
    if (pointer.x < 0 || pointer.y < 0 || pointer.x > box.width || pointer.y > box.height) return hide();
    loupe.hidden = false;
    lens();
  }
  function hide() { pointer = null; loupe.hidden = true; }

  compare.addEventListener("pointermove", follow);
  compare.addEventListener("pointerdown", follow);
  compare.addEventListener("pointerleave", hide);
  slider.addEventListener("input", place);
  place();
}

function setupCurve(box) {
  const wait = $("#curve-wait", box);
  if (!wait) return;
  async function poll() {
    const response = await fetch(box.dataset.curveUrl, { headers: { Accept: "application/json" } });
    if (response.status === 200) {
      const img = document.createElement("img");
      img.src = box.dataset.svgUrl;
      img.alt = "choose-k curve";
      img.width = 640;
      img.height = 300;
      box.replaceChildren(img);
      return;
    }
    if (response.status !== 202) { wait.textContent = await detailOf(response); return; }
    window.setTimeout(poll, 1500);
  }
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = $("#upload-form");
  if (form) setupUpload(form);
  const progress = $("#progress");
  if (progress) setupProgress(progress);
  const slider = $("#slider");
  if (slider) setupCompare(slider);
  const curve = $("#curve");
  if (curve) setupCurve(curve);
});
