// Accessibility checks run on every screen alongside axe-core (see fixtures.check_screen):
// page language and title, an accessible name for every control, alternative text for
// images and charts, unique ids, text contrast (WCAG AA, including the SVG charts' text,
// which axe-core leaves "to review") and touch targets of at least 48x48 CSS pixels
// (a kiosk rule, stricter than WCAG's). Returns a list of problems.
() => {
  const problems = [];
  const visible = (el) => {
    if (el.closest("[hidden]")) return false;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
    ' "' + (el.textContent || "").trim().slice(0, 30) + '"';

  if (!document.documentElement.lang) problems.push("html has no lang attribute");
  if (!document.title.trim()) problems.push("page has no title");

  const ids = new Map();
  for (const el of document.querySelectorAll("[id]")) ids.set(el.id, (ids.get(el.id) || 0) + 1);
  for (const [id, count] of ids) if (count > 1) problems.push(`id "${id}" is used ${count} times`);

  // Accessible names of controls.
  const name = (el) => {
    const labelledby = el.getAttribute("aria-labelledby");
    if (labelledby) return labelledby.split(/\s+/).map((id) => (document.getElementById(id) || {}).textContent || "").join(" ").trim();
    if (el.getAttribute("aria-label")) return el.getAttribute("aria-label").trim();
    if (el.labels && el.labels.length) return Array.from(el.labels).map((label) => label.textContent).join(" ").trim();
    if (el.tagName === "IMG") return (el.getAttribute("alt") || "").trim();
    if (["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)) return (el.getAttribute("title") || "").trim();
    return (el.textContent || el.getAttribute("title") || "").trim();
  };
  const controls = document.querySelectorAll("a[href], button, input:not([type=hidden]), textarea, select, [role=button]");
  for (const el of controls) {
    if (!visible(el)) continue;
    if (!name(el)) problems.push(`control without an accessible name: ${describe(el)}`);
    const box = el.getBoundingClientRect();
    if (box.width < 48 || box.height < 48) {
      problems.push(`touch target smaller than 48x48 px (${Math.round(box.width)}x${Math.round(box.height)}): ${describe(el)}`);
    }
  }
  for (const img of document.querySelectorAll("img")) {
    if (visible(img) && !img.hasAttribute("alt")) problems.push(`image without alt text: ${describe(img)}`);
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (!visible(svg) || svg.getAttribute("aria-hidden") === "true") continue;
    if (svg.getAttribute("role") !== "img" || !(svg.getAttribute("aria-label") || svg.querySelector("title"))) {
      problems.push(`chart without role=img and a label: ${describe(svg)}`);
    }
  }

  // Contrast of every visible text against the background it is drawn on.
  const parse = (color) => {
    const match = color.match(/rgba?\(([^)]+)\)/);
    if (!match) return null;
    const parts = match[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const color = parse(getComputedStyle(node).backgroundColor);
      if (color && color.a > 0) {
        layers.push(color);
        if (color.a >= 1) break;
      }
    }
    let result = { r: 255, g: 255, b: 255 };
    for (const layer of layers.reverse()) {
      result = {
        r: layer.r * layer.a + result.r * (1 - layer.a),
        g: layer.g * layer.a + result.g * (1 - layer.a),
        b: layer.b * layer.a + result.b * (1 - layer.a),
      };
    }
    return result;
  };
  const luminance = ({ r, g, b }) => {
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const ratio = (a, b) => {
    const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (high + 0.05) / (low + 0.05);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const text = walker.currentNode;
    const el = text.parentElement;
    if (!text.textContent.trim() || seen.has(el) || !visible(el)) continue;
    if (["SCRIPT", "STYLE", "TITLE"].includes(el.tagName) || el.closest(".visually-hidden")) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const inSvg = el.closest("svg");
    const fg = parse(inSvg ? style.fill : style.color);
    if (!fg) continue;
    const bg = background(inSvg ? inSvg.parentElement : el);
    const size = parseFloat(style.fontSize);
    const bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const got = ratio(fg, bg);
    if (got < needed) problems.push(`contrast ${got.toFixed(2)} < ${needed}: ${describe(el)}`);
  }
  return problems;
}
