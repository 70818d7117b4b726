// Building the page without markup: every string becomes a text node, and
// only a short list of attributes may be set. Data from nodes and tenants
// (host names, reasons quoting evidence, VM and computation names) is
// hostile; nothing here ever parses it as HTML. (The page's
// Content-Security-Policy also makes innerHTML with a string throw.)

const ATTRS = new Set([
	"class", "id", "type", "name", "value", "placeholder", "title", "for",
	"colspan", "role", "aria-label", "aria-live", "autocomplete", "tabindex",
	"data-id", "data-status", "data-sort", "data-kind", "data-state",
	"href", "spellcheck", "autofocus", "required", "hidden",
]);

const SVG_NS = "http://www.w3.org/2000/svg";
const SVG_ATTRS = new Set([
	"viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "r",
	"cx", "cy", "d", "points", "class", "text-anchor", "data-status",
	"role", "aria-label", "preserveAspectRatio",
]);

function setAttrs(e, attrs, allowed) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === "on") {
			for (const [ev, fn] of Object.entries(v))
				e.addEventListener(ev, fn);
			continue;
		}
		if (!allowed.has(k))
			throw new Error(`dom: attribute ${k} is not allowed`);
		// Links stay inside the page: hash routes only.
		if (k === "href" && !String(v).startsWith("#"))
			throw new Error("dom: only #routes may be linked");
		e.setAttribute(k, v === true ? "" : String(v));
	}
}

function append(e, kids) {
	for (const k of kids.flat(Infinity)) {
		if (k === undefined || k === null || k === false)
			continue;
		e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
	}
}

// el("td", {class: "x"}, "text", child, ...): an HTML element.
export function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	setAttrs(e, attrs, ATTRS);
	append(e, kids);
	return e;
}

// svg("rect", {x: 1, ...}, ...): an SVG element (text children as text).
export function svg(tag, attrs, ...kids) {
	const e = document.createElementNS(SVG_NS, tag);
	setAttrs(e, attrs, SVG_ATTRS);
	append(e, kids);
	return e;
}

// Replaces the children of e.
export function fill(e, ...kids) {
	e.replaceChildren();
	append(e, kids);
	return e;
}

export function text(s) {
	return document.createTextNode(String(s));
}
