// The appraisal history of a node as a small SVG chart, drawn by hand: one
// band per tier, each appraisal a bar from when its result was first seen
// to when it was last confirmed, on a shared time axis.
import { svg } from "./dom.js";
import { TIERS, tierName, when } from "./words.js";

const W = 720, H = 150, L = 118, R = 10, T = 8, B = 24;

export function historyChart(appraisals) {
	const rows = appraisals
		.map((a) => ({
			s: tierName(a.status),
			t0: Date.parse(a.first_at || a.appraised_at),
			t1: Date.parse(a.last_at || a.appraised_at),
		}))
		.filter((r) => !Number.isNaN(r.t0) && !Number.isNaN(r.t1))
		.sort((a, b) => a.t0 - b.t0);
	const root = svg("svg", {
		viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
		"aria-label": "appraisal history: status over time",
	});
	const band = (H - T - B) / TIERS.length;
	TIERS.forEach((tier, i) => {
		root.appendChild(svg("rect", {
			x: L, y: T + i * band, width: W - L - R, height: band,
			class: `band band-${i % 2}`,
		}));
		root.appendChild(svg("text", {
			x: L - 6, y: T + i * band + band / 2 + 4, "text-anchor": "end",
			class: "label",
		}, tier));
	});
	if (rows.length === 0) {
		root.appendChild(svg("text", { x: L + 10, y: H / 2, class: "label" },
			"no appraisals yet"));
		return root;
	}
	let lo = rows[0].t0, hi = Math.max(...rows.map((r) => r.t1));
	if (hi - lo < 60000)
		hi = lo + 60000;
	const x = (t) => L + (t - lo) / (hi - lo) * (W - L - R);
	let prev = null;
	for (const r of rows) {
		const i = TIERS.indexOf(r.s);
		const y = T + i * band + band / 2;
		if (prev !== null)	// a change: a step from the last row
			root.appendChild(svg("line", {
				x1: x(r.t0), y1: prev, x2: x(r.t0), y2: y, class: "step",
			}));
		root.appendChild(svg("rect", {
			x: x(r.t0), y: y - band / 3, height: band * 2 / 3,
			width: Math.max(2, x(r.t1) - x(r.t0)),
			class: `bar t-${r.s}`, "data-status": r.s,
		}));
		prev = y;
	}
	root.appendChild(svg("text", { x: L, y: H - 6, class: "label" }, when(new Date(lo).toISOString().replace(/\.\d+Z$/, "Z"))));
	root.appendChild(svg("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "label" },
		when(new Date(hi).toISOString().replace(/\.\d+Z$/, "Z"))));
	return root;
}
