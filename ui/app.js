// The Vigil dashboard: a page over the public REST API (docs/dashboard.md).
// Routes are #/..., each a view function that fills <main>. Everything
// shown comes from the API with the signed-in token, so the page shows
// exactly what that token may see.
import * as api from "./api.js";
import { el, fill } from "./dom.js";
import { historyChart } from "./chart.js";
import {
	TIERS, TIER_WORDS, CLAIMS, claimWords, tierOf, tierName, when, ago, short,
} from "./words.js";

const main = document.getElementById("main");
const st = {
	role: null,			// "operator" | "tenant"
	nodes: new Map(),		// id -> GET /v1/nodes item
	changed: new Map(),		// node id -> {at, status, previous}
	stream: null,
	view: null,			// {name, id, refresh()}
	filter: "", status: "", sort: "changed", desc: true,
};

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

function badge(s) {
	const t = tierName(s);
	return el("span", { class: `badge t-${t}`, "data-status": t }, t);
}

function link(route, label) {
	return el("a", { href: `#/${route}` }, label);
}

function nodeName(id) {
	const n = st.nodes.get(id);
	return n ? n.hostname : short(id);
}

function nodeLink(id) {
	if (st.role !== "operator")
		return el("span", { title: id }, short(id));
	return link(`node/${id}`, nodeName(id));
}

function table(head, rows, attrs) {
	return el("table", attrs || {},
		el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
		el("tbody", {}, rows));
}

function section(title, ...kids) {
	return el("section", { class: "card" }, el("h2", {}, title), kids);
}

function problem(e) {
	return el("p", { class: "error", role: "alert" }, String(e.message || e));
}

// ---- sign-in -------------------------------------------------------------

function signIn(msg) {
	setHeader();
	const input = el("input", {
		id: "token", type: "password", autocomplete: "off",
		spellcheck: "false", placeholder: "operator or tenant token",
		required: true,
	});
	const form = el("form", { id: "signin", class: "card" },
		el("h1", {}, "Sign in to Vigil"),
		el("p", {}, "Paste an operator or tenant bearer token (for example the ",
			el("code", {}, "operator_token"), " of the demo's cluster.json, or one from ",
			el("code", {}, "vigil-verifier token create"),
			"). It is kept in this tab only and sent only to this verifier's API."),
		el("label", { for: "token" }, "Token"), input,
		el("button", { type: "submit" }, "Sign in"),
		msg ? el("p", { class: "error", role: "alert" }, msg) : null);
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		api.token.set(input.value.trim());
		await start();
	});
	fill(main, form);
	input.focus();
}

async function start() {
	let role;
	try {
		role = await api.whoami();
	} catch (e) {
		fill(main, problem(e));
		return;
	}
	if (role === null) {
		api.token.clear();
		signIn("The verifier refused that token (unknown or revoked).");
		return;
	}
	st.role = role;
	setHeader();
	if (role === "operator")
		await loadNodes();
	st.stream = api.events(onEvent, setLive);
	route();
}

function signOut() {
	if (st.stream)
		st.stream.close();
	st.stream = null;
	st.role = null;
	st.nodes.clear();
	st.changed.clear();
	api.token.clear();
	setLive("off");
	location.hash = "#/";
	signIn();
}

function setHeader() {
	const nav = document.getElementById("nav");
	const links = st.role === "operator" ?
		[["", "Fleet"], ["vms", "VMs"], ["computations", "Computations"], ["audit", "Audit log"]] :
		st.role === "tenant" ?
			[["vms", "VMs"], ["keys", "Keys"], ["computations", "Computations"]] : [];
	fill(nav, links.map(([r, l]) => link(r, l)));
	fill(document.getElementById("who"), st.role ? `signed in as ${st.role}` : "");
	document.getElementById("signout").hidden = !st.role;
}

function setLive(s) {
	const e = document.getElementById("live");
	e.setAttribute("data-state", s);
	fill(e, { live: "live", reconnecting: "reconnecting…", refused: "events refused", off: "not live" }[s] || s);
}

// ---- live events ---------------------------------------------------------

function onEvent(ev) {
	if (!ev || typeof ev !== "object")
		return;
	if (ev.kind === "node.status" && typeof ev.subject === "string") {
		const d = ev.data || {};
		st.changed.set(ev.subject, { at: ev.at, status: d.status, previous: d.previous, reasons: d.reasons });
		const n = st.nodes.get(ev.subject);
		if (n) {
			n.status = tierName(d.status);
			n.last_appraisal_at = ev.at;
		} else if (st.role === "operator" && ID_RE.test(ev.subject)) {
			api.get(`/v1/nodes/${ev.subject}`).then((x) => {
				st.nodes.set(x.id, { id: x.id, hostname: x.hostname, status: x.status, last_seen_at: x.last_seen_at, last_appraisal_at: ev.at });
				refreshIf("fleet");
			}).catch(() => {});
		}
		refreshIf("fleet");
		refreshIf("node", ev.subject);
	} else if (ev.kind === "replay.result" && ev.data) {
		refreshIf("computation", ev.data.computation);
		refreshIf("computations");
	} else if (ev.kind === "smm.migration" && ev.data) {
		refreshIf("vm", ev.data.vm);
		refreshIf("vms");
	}
}

let pending = new Set();
function refreshIf(name, id) {
	const v = st.view;
	if (!v || v.name !== name || (id !== undefined && v.id !== id))
		return;
	// Coalesce a burst of events (the stored history at sign-in).
	const key = `${name}/${id}`;
	if (pending.has(key))
		return;
	pending.add(key);
	setTimeout(() => {
		pending.delete(key);
		if (st.view === v)
			v.refresh();
	}, 150);
}

async function loadNodes() {
	const items = await api.all("/v1/nodes?limit=500");
	st.nodes.clear();
	for (const n of items)
		st.nodes.set(n.id, n);
}

// ---- the fleet -----------------------------------------------------------

function fleetView() {
	const tiles = el("div", { id: "tiles", class: "tiles" });
	const recent = el("ol", { id: "recent", class: "recent" });
	const tbody = el("tbody", { id: "nodes" });
	const count = el("span", { class: "muted" });
	const search = el("input", {
		id: "filter", type: "search", placeholder: "filter by host name or id",
		value: st.filter, autocomplete: "off",
	});
	search.addEventListener("input", () => { st.filter = search.value; update(); });
	const sel = el("select", { id: "status-filter", "aria-label": "status" },
		el("option", { value: "" }, "any status"),
		TIERS.map((t) => el("option", { value: t }, t)));
	sel.value = st.status;
	sel.addEventListener("change", () => { st.status = sel.value; update(); });
	const cols = [["hostname", "Host name"], ["status", "Status"], ["changed", "Last change"],
		["appraised", "Last appraisal"], ["seen", "Last seen"], ["id", "Node id"]];
	const head = el("tr", {}, cols.map(([k, label]) => {
		const th = el("th", { "data-sort": k, tabindex: 0, class: "sortable" }, label);
		const go = () => {
			st.desc = st.sort === k ? !st.desc : (k === "changed" || k === "appraised" || k === "seen");
			st.sort = k;
			update();
		};
		th.addEventListener("click", go);
		th.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
		return th;
	}));
	fill(main,
		el("h1", {}, "Fleet"),
		tiles,
		section("Changed recently", recent),
		section("Nodes", el("div", { class: "controls" }, search, sel, count),
			el("table", { id: "node-table" }, el("thead", {}, head), tbody)));

	function changedAt(n) {
		const c = st.changed.get(n.id);
		return c ? c.at : "";
	}

	function update() {
		const nodes = [...st.nodes.values()];
		const by = { affirming: 0, warning: 0, contraindicated: 0, none: 0 };
		for (const n of nodes)
			by[tierName(n.status)]++;
		fill(tiles, TIERS.map((t) => el("div", { class: `tile t-${t}`, "data-status": t },
			el("span", { class: "count" }, String(by[t])),
			el("span", { class: "what" }, t))));
		const ch = nodes.filter((n) => st.changed.has(n.id))
			.sort((a, b) => changedAt(b).localeCompare(changedAt(a))).slice(0, 8);
		fill(recent, ch.length === 0 ? el("li", { class: "muted" }, "no status changes recorded") :
			ch.map((n) => {
				const c = st.changed.get(n.id);
				return el("li", { "data-id": n.id },
					link(`node/${n.id}`, n.hostname), " ",
					c.previous ? [badge(c.previous), " → "] : "", badge(c.status), " ",
					el("span", { class: "muted", title: when(c.at) }, ago(c.at)),
					Array.isArray(c.reasons) && c.reasons.length > 0 ?
						el("div", { class: "why" }, String(c.reasons[0])) : null);
			}));
		const f = st.filter.toLowerCase();
		const key = {
			hostname: (n) => n.hostname, status: (n) => String(TIERS.indexOf(tierName(n.status))),
			changed: changedAt, appraised: (n) => n.last_appraisal_at || "",
			seen: (n) => n.last_seen_at || "", id: (n) => n.id,
		}[st.sort];
		const rows = nodes
			.filter((n) => !f || n.hostname.toLowerCase().includes(f) || n.id.includes(f))
			.filter((n) => !st.status || tierName(n.status) === st.status)
			.sort((a, b) => (st.desc ? -1 : 1) * String(key(a)).localeCompare(String(key(b))));
		fill(tbody, rows.map((n) => el("tr", { "data-id": n.id, "data-status": tierName(n.status) },
			el("td", { class: "host" }, link(`node/${n.id}`, n.hostname)),
			el("td", { class: "status" }, badge(n.status)),
			el("td", {}, changedAt(n) ? ago(changedAt(n)) : "-"),
			el("td", {}, when(n.last_appraisal_at)),
			el("td", {}, ago(n.last_seen_at)),
			el("td", { class: "mono", title: n.id }, short(n.id, 16)))));
		fill(count, `${rows.length} of ${nodes.length} nodes`);
		for (const th of head.children) {
			th.classList.toggle("sorted", th.getAttribute("data-sort") === st.sort);
			th.classList.toggle("desc", th.getAttribute("data-sort") === st.sort && st.desc);
		}
	}
	update();
	return update;
}

// ---- one node ------------------------------------------------------------

async function nodeView(id) {
	const [n, hist, smm, vms] = await Promise.all([
		api.get(`/v1/nodes/${id}`),
		api.get(`/v1/nodes/${id}/appraisals?limit=200`),
		api.get(`/v1/nodes/${id}/smm-log?limit=200`).catch((e) => ({ error: e })),
		api.get("/v1/vms").catch(() => ({ vms: [] })),
	]);
	const known = st.nodes.get(id);
	if (known)
		known.status = n.status;
	const ap = n.appraisal || {};
	const reasons = Array.isArray(ap.reasons) ? ap.reasons : [];
	const vec = ap.trustworthiness_vector || {};
	const mine = (vms.vms || []).filter((v) => v.host_node === id);
	const vmDocs = await Promise.all(mine.slice(0, 20).map((v) =>
		api.get(`/v1/vms/${v.id}`).catch(() => v)));
	const items = (hist.items || []);

	fill(main,
		el("p", {}, link("", "← Fleet")),
		el("h1", { "data-id": n.id }, el("span", { id: "node-host" }, n.hostname), " ", el("span", { id: "node-status" }, badge(n.status))),
		el("p", { class: "mono muted" }, n.id),
		section("Status",
			el("p", { id: "status-words" }, TIER_WORDS[tierName(n.status)]),
			el("p", { class: "muted" }, `enrolment ${n.state}; last seen ${when(n.last_seen_at)} (${ago(n.last_seen_at)}); latest appraisal ${when(ap.appraised_at)}`),
			el("h3", {}, "Why"),
			reasons.length === 0 ? el("p", { class: "muted" }, "no reasons given: every check passed") :
				el("ul", { id: "reasons" }, reasons.map((r) => el("li", {}, typeof r === "string" ? r : JSON.stringify(r))))),
		section("Trust vector", table(["Claim", "Value", "Tier", "What it covers", "Meaning"],
			Object.keys(vec).sort().map((c) => el("tr", {},
				el("td", { class: "mono" }, c), el("td", {}, String(vec[c])),
				el("td", {}, badge(tierOf(vec[c]))), el("td", {}, CLAIMS[c] || ""),
				el("td", {}, claimWords(c, vec[c])))), { id: "vector" })),
		section("Appraisal history", historyChart(items),
			table(["From", "Until", "Status", "Reasons"], items.slice(0, 30).map((a) => el("tr", {},
				el("td", {}, when(a.first_at)), el("td", {}, when(a.last_at)),
				el("td", {}, badge(a.status)),
				el("td", {}, (a.reasons || []).map((r) => el("div", {}, typeof r === "string" ? r : JSON.stringify(r))))))),
			hist.next_cursor ? el("p", { class: "muted" }, "older appraisals not shown") : null),
		section("SMM measurement log", smmTable(smm)),
		evidenceSection(n.evidence),
		section("VMs on this node", mine.length === 0 ? el("p", { class: "muted" }, "none") :
			vmDocs.map((v) => el("div", { class: "vm" }, link(`vm/${v.id}`, v.name), " ",
				badge(v.status), " ", el("span", { class: "muted" }, `tenant ${v.tenant}`),
				placements(v)))));
}

function smmTable(smm) {
	if (smm.error)
		return el("p", { class: "muted" }, smm.error.status === 404 ? "this node has no SMM service" : smm.error.message);
	const rows = (smm.entries || []).slice().reverse();
	if (rows.length === 0)
		return el("p", { class: "muted" }, "no entries");
	return table(["Seq", "Time", "Kind", "What", "Verdict", "Changed pages"], rows.map((e) => {
		const what = e.kind === "measure" ? `${e.target || ""} ${e.region || ""} (${e.size ?? "?"} bytes)` :
			e.kind === "key-use" ? `key ${e.key_id ?? ""} ${e.op ?? ""} by uid ${e.caller_uid ?? ""}${e.tenant ? ` for ${e.tenant}` : ""}` :
				e.kind === "start" ? `service started (boot ${e.boot ?? "?"})` :
					e.kind === "refs" ? `reference set version ${e.version ?? "?"}` : "";
		const verdict = e.kind === "key-use" ? (e.granted ? "granted" : `refused: ${e.status ?? ""}`) : (e.verdict || "");
		const pages = Array.isArray(e.changed_pages) ? e.changed_pages : [];
		return el("tr", { "data-kind": e.kind, class: pages.length > 0 || verdict.startsWith("refused") || (verdict && verdict !== "match" && e.kind === "measure") ? "bad" : "" },
			el("td", {}, String(e.seq)),
			el("td", {}, typeof e.time_ms === "number" ? when(new Date(e.time_ms).toISOString().replace(/\.\d+Z$/, "Z")) : "-"),
			el("td", {}, e.kind), el("td", { class: "wrap" }, what), el("td", {}, verdict),
			el("td", { class: "mono" }, pages.map((p) => typeof p === "object" ? JSON.stringify(p) : String(p)).join(", ")));
	}), { id: "smm-log" });
}

function evidenceSection(ev) {
	if (!ev || (ev.conflicts_total === 0 && ev.gaps_total === 0))
		return null;
	return section("Evidence problems",
		el("p", {}, `${ev.conflicts_total} conflicting resends, ${ev.gaps_total} gaps in the agent's spool`),
		el("ul", {}, [...(ev.conflicts || []), ...(ev.gaps || [])].map((x) =>
			el("li", {}, typeof x.reason === "string" ? x.reason : JSON.stringify(x)))));
}

function placements(v) {
	const p = Array.isArray(v.placements) ? v.placements : [];
	if (p.length === 0)
		return el("p", { class: "muted" }, "not placed yet");
	return table(["When", "Event", "Node"], p.map((x) => el("tr", {},
		el("td", {}, when(x.at)), el("td", {}, x.event), el("td", {}, nodeLink(x.node)))), { class: "placements" });
}

// ---- VMs -----------------------------------------------------------------

async function vmsView() {
	const r = await api.get("/v1/vms");
	const vms = r.vms || [];
	fill(main, el("h1", {}, "VMs"),
		vms.length === 0 ? el("p", { class: "muted" }, "no VMs") :
			table(["Name", "Status", "Tenant", "Host node", "Created", "Id"], vms.map((v) =>
				el("tr", { "data-id": v.id },
					el("td", { class: "name" }, link(`vm/${v.id}`, v.name)), el("td", {}, badge(v.status)),
					el("td", {}, v.tenant), el("td", {}, v.host_node ? nodeLink(v.host_node) : "not placed"),
					el("td", {}, when(v.created_at)), el("td", { class: "mono" }, short(v.id, 16)))), { id: "vm-table" }));
}

function resultPart(title, p) {
	if (!p)
		return null;
	const vec = p["trustworthiness-vector"] || {};
	return el("div", {}, el("h3", {}, title, " ", badge(p.status)),
		el("p", { class: "muted" }, Object.keys(vec).sort().map((c) => `${c} ${vec[c]} (${claimWords(c, vec[c])})`).join("; ")),
		el("ul", {}, (p.reasons || []).map((x) => el("li", {}, String(x)))));
}

async function vmView(id) {
	const v = await api.get(`/v1/vms/${id}`);
	const res = v.result || {};
	fill(main, el("p", {}, link("vms", "← VMs")),
		el("h1", {}, el("span", { id: "vm-name" }, v.name), " ", badge(v.status)),
		el("p", { class: "mono muted" }, v.id),
		section("Status",
			el("p", {}, TIER_WORDS[tierName(v.status)]),
			el("p", {}, `tenant ${v.tenant}; vTPM ${v.vtpm || "-"}; host `, v.host_node ? nodeLink(v.host_node) : "none",
				v.host_status ? [" (host ", badge(v.host_status), ")"] : ""),
			resultPart("Guest (its vTPM)", res.guest), resultPart("Host (the platform under it)", res.host)),
		section("Placement history", placements(v),
			v.migration ? el("p", {}, `last migration: `, nodeLink(v.migration.source), " → ",
				nodeLink(v.migration.target), ` (${v.migration.state})`) : null));
}

// ---- computations --------------------------------------------------------

async function computationsView() {
	const items = await api.all("/v1/computations?limit=200");
	fill(main, el("h1", {}, "Computations"),
		items.length === 0 ? el("p", { class: "muted" }, "no computations") :
			table(["Name", "Status", "Checkpoints", "Tenant", "Node", "Created", "Id"], items.map((c) =>
				el("tr", { "data-id": c.id },
					el("td", { class: "name" }, link(`computation/${c.id}`, c.name || "(unnamed)")),
					el("td", {}, c.status), el("td", {}, String(c.count ?? "-")), el("td", {}, c.tenant),
					el("td", {}, nodeLink(c.node)), el("td", {}, when(c.created_at)),
					el("td", { class: "mono" }, short(c.id, 16)))), { id: "comp-table" }));
}

function replayWords(r) {
	if (!r)
		return "never replayed";
	if (r.status === "match")
		return `match: ${r.checkpoints_compared} checkpoints replayed and equal`;
	if (r.status === "diverged") {
		const d = r.divergence || {};
		return `diverged at checkpoint ${d.index ?? "?"}: the record's state ${short(d.expected_state, 16)}, the replay's ${short(d.actual_state, 16)}` +
			` (cumulative ${short(d.expected_cumulative, 16)} vs ${short(d.actual_cumulative, 16)})`;
	}
	if (r.status === "error")
		return `error: ${r.error ?? ""}`;
	return String(r.status);
}

async function computationView(id) {
	const c = await api.get(`/v1/computations/${id}`);
	const rp = c.latest_replay;
	fill(main, el("p", {}, link("computations", "← Computations")),
		el("h1", {}, el("span", { id: "comp-name" }, c.name || "(unnamed)"), " ", el("span", { class: "muted" }, c.status)),
		el("p", { class: "mono muted" }, c.id),
		section("Recipe",
			el("p", {}, `tenant ${c.tenant}; recorded on `, nodeLink(c.node), `; exit status ${c.exit_status ?? "-"}`),
			el("pre", { class: "wrap" }, JSON.stringify(c.recipe || {}, null, 2)),
			el("p", { class: "mono" }, `C0 ${c.c0 || "-"}`), el("p", { class: "mono" }, `final ${c.final_cumulative || "-"}`),
			c.reason ? el("p", { class: "error" }, c.reason) : null),
		section("Latest replay",
			el("p", { id: "replay", "data-status": rp ? rp.status : "none" }, replayWords(rp)),
			rp ? el("p", { class: "muted" }, `replay `, link(`replay/${rp.id}`, short(rp.id, 16)), ` queued ${when(rp.created_at)}, finished ${when(rp.finished_at)}`) : null),
		section("Checkpoints", table(["#", "Verdict", "State digest", "Cumulative digest", "TPM clock", "Reason"],
			(c.checkpoints || []).map((k) => el("tr", { class: k.verdict === "valid" ? "" : "bad" },
				el("td", {}, String(k.index)), el("td", {}, k.pending ? "pending" : k.verdict),
				el("td", { class: "mono", title: k.state }, short(k.state, 16)),
				el("td", { class: "mono", title: k.cumulative }, short(k.cumulative, 16)),
				el("td", {}, `${k.clock} (boot ${k.reset_count}.${k.restart_count})`), el("td", {}, k.reason || ""))), { id: "checkpoints" })));
}

async function replayView(id) {
	const r = await api.get(`/v1/replays/${id}`);
	fill(main, el("p", {}, link(`computation/${r.computation_id}`, "← Computation")),
		el("h1", {}, "Replay ", el("span", { class: "mono" }, short(r.id, 16))),
		section("Result", el("p", { id: "replay", "data-status": r.status }, replayWords(r)),
			el("pre", { class: "wrap" }, JSON.stringify(r, null, 2))));
}

// ---- keys (tenants) ------------------------------------------------------

function keysView() {
	const out = el("div", {});
	const input = el("input", { id: "key-id", placeholder: "key id (from POST /v1/keys)", autocomplete: "off" });
	const form = el("form", { class: "controls" }, input, el("button", { type: "submit" }, "Show uses"));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const k = input.value.trim();
		if (!ID_RE.test(k)) {
			fill(out, el("p", { class: "error" }, "a key id is letters, digits, '.', '_' or '-'"));
			return;
		}
		try {
			const r = await api.get(`/v1/keys/${k}/uses`);
			const es = r.entries || [];
			fill(out, es.length === 0 ? el("p", { class: "muted" }, "no uses logged") :
				table(["Seq", "Time", "Operation", "Caller uid", "Answer"], es.map((e) => el("tr", { class: e.granted ? "" : "bad" },
					el("td", {}, String(e.seq)), el("td", {}, when(new Date(e.time_ms).toISOString().replace(/\.\d+Z$/, "Z"))),
					el("td", {}, String(e.op ?? "")), el("td", {}, String(e.caller_uid ?? "")),
					el("td", {}, e.granted ? "granted" : `refused: ${e.status ?? ""}`)))));
		} catch (e) {
			fill(out, problem(e));
		}
	});
	fill(main, el("h1", {}, "Keys"),
		el("p", {}, "Keys held for you by nodes' SMM services. The API lists a key's uses by its id: every request vigil-smmd logged, granted or refused."),
		form, out);
}

// ---- audit ---------------------------------------------------------------

async function auditView() {
	const rows = el("tbody", { id: "audit" });
	const more = el("button", { type: "button" }, "Older entries");
	let cursor = null;
	async function page() {
		const r = await api.get(`/v1/audit?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
		for (const a of r.items || [])
			rows.appendChild(el("tr", {}, el("td", {}, when(a.at)), el("td", {}, a.who),
				el("td", { class: "mono" }, a.action), el("td", { class: "mono" }, a.object), el("td", { class: "wrap" }, a.detail)));
		cursor = r.next_cursor;
		more.hidden = !cursor;
	}
	more.addEventListener("click", () => page().catch((e) => main.appendChild(problem(e))));
	fill(main, el("h1", {}, "Audit log"), el("p", { class: "muted" }, "who changed what, newest first"),
		el("table", {}, el("thead", {}, el("tr", {}, ["When", "Who", "Action", "Object", "Detail"].map((h) => el("th", {}, h)))), rows), more);
	await page();
}

// ---- routing -------------------------------------------------------------

const VIEWS = {
	"": { op: true, fn: () => null },
	node: { op: true, fn: nodeView },
	vms: { fn: vmsView }, vm: { fn: vmView },
	computations: { fn: computationsView }, computation: { fn: computationView },
	replay: { fn: replayView }, audit: { op: true, fn: auditView },
	keys: { tenant: true, fn: keysView },
};

async function route() {
	if (!st.role)
		return;
	let [, name = "", id] = (location.hash || "#/").split("/");
	if (name === "" && st.role === "tenant")
		name = "vms";
	const v = VIEWS[name];
	if (!v || (v.op && st.role !== "operator") || (v.tenant && st.role !== "tenant") ||
	    (id !== undefined && !ID_RE.test(id))) {
		fill(main, el("h1", {}, "Not here"), el("p", {}, "This page does not exist for your token."));
		st.view = null;
		return;
	}
	const view = { name: name === "" ? "fleet" : name, id };
	st.view = view;
	if (name === "") {
		view.refresh = fleetView();
		return;
	}
	view.refresh = async () => {
		try {
			await v.fn(id);
		} catch (e) {
			if (st.view === view)
				fill(main, problem(e));
		}
	};
	await view.refresh();
}

document.getElementById("signout").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
if (api.token.get())
	start();
else
	signIn();
