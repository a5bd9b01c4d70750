// Small helpers shared by the views: DOM building, rate limiting, binary buffers, downloads, theme.

/** Create an element: h("div", {class: "x", onclick: fn}, child1, "text"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Rate-limit fn to one call per `ms`, always delivering the latest arguments (leading + trailing),
 * so a dragged slider updates live without flooding the kernel.
 */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  let pending = null;
  const fire = () => {
    timer = null;
    last = performance.now();
    const args = pending;
    pending = null;
    fn(...args);
  };
  const wrapped = (...args) => {
    pending = args;
    const wait = ms - (performance.now() - last);
    if (wait <= 0 && timer === null) fire();
    else if (timer === null) timer = setTimeout(fire, Math.max(0, wait));
  };
  wrapped.flush = () => {
    if (timer !== null) {
      clearTimeout(timer);
      fire();
    }
  };
  wrapped.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    pending = null;
  };
  return wrapped;
}

/** Copy a DataView / ArrayBuffer / typed array into a fresh, 0-offset Uint8Array (aligned for Float32 views). */
export function toBytes(data) {
  if (!data) return new Uint8Array(0);
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  if (Array.isArray(data)) return Uint8Array.from(data);
  return new Uint8Array(0);
}

/** Save bytes as a file through the browser (a temporary object URL and an <a download>). */
export function downloadBytes(bytes, filename, mime = "application/octet-stream") {
  const blob = new Blob([toBytes(bytes)], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, style: { display: "none" } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Read a CSS custom property (resolved through var() fallbacks) from an element. */
export function cssVar(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}

/** Call fn whenever JupyterLab switches between light and dark themes (body data attributes). */
export function onThemeChange(fn) {
  const observer = new MutationObserver(() => fn());
  observer.observe(document.body, {
    attributes: true,
    attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"],
  });
  const media = window.matchMedia?.("(prefers-color-scheme: dark)");
  media?.addEventListener?.("change", fn);
  return () => {
    observer.disconnect();
    media?.removeEventListener?.("change", fn);
  };
}

/** Size a canvas for the device pixel ratio; returns a 2-D context scaled to CSS pixels. */
export function fitCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width * dpr));
  const hgt = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== hgt) canvas.height = hgt;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Observe an element's content width; calls fn(width) on changes (rounded, de-duplicated). */
export function observeWidth(el, fn) {
  let lastWidth = -1;
  const ro = new ResizeObserver((entries) => {
    const width = Math.round(entries[0].contentRect.width);
    if (width > 0 && width !== lastWidth) {
      lastWidth = width;
      fn(width);
    }
  });
  ro.observe(el);
  return () => ro.disconnect();
}

export function formatSeconds(s) {
  if (!Number.isFinite(s)) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
}
