// The dashboard in a real browser (tests/e2e/dashboard.sh starts the
// cluster and passes it in the environment): sign in, fleet counts equal
// GET /v1/nodes, a node tampered while the page is open turns
// contraindicated without a reload, a tenant does not see another
// tenant's VM, hostile names show as text and run nothing. Screenshots of
// the main views go to SHOTS (docs/dashboard/). Prints "PASS: ..." or
// "FAIL: ..." and exits 0 or 1.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { createPublicKey, createHash } from "node:crypto";
import { Browser } from "./cdp.mjs";

const env = (k) => {
	const v = process.env[k];
	if (!v)
		throw new Error(`${k} is not set`);
	return v;
};
const URL0 = env("DASH_URL"), OP = env("DASH_OPERATOR"), ACME = env("DASH_ACME");
const GLOBEX = env("DASH_GLOBEX"), TAMPER = env("DASH_TAMPER_NODE");
const TAMPER_TCTI = env("DASH_TAMPER_TCTI"), HOSTILE_NODE = env("DASH_HOSTILE_NODE");
const HOSTILE_HOST = env("DASH_HOSTILE_HOST"), HOSTILE_COMP = env("DASH_HOSTILE_COMP");
const HOSTILE_NAME = env("DASH_HOSTILE_NAME"), ACME_VM = env("DASH_ACME_VM");
const GLOBEX_VM = env("DASH_GLOBEX_VM"), SHOTS = env("DASH_SHOTS");
const CERT = process.env.DASH_CERT || "";

const log = (m) => console.log(`${new Date().toISOString().slice(11, 19)} ${m}`);
function fail(m) {
	throw new Error(m);
}

async function api(path, tok) {
	const r = await fetch(URL0 + path, { headers: { Authorization: `Bearer ${tok}` } });
	if (!r.ok)
		fail(`GET ${path}: ${r.status}`);
	return r.json();
}

// Every /ui/ answer: the security headers and the right content type.
async function checkHeaders() {
	for (const [p, type] of [["/ui/", "text/html; charset=utf-8"],
		["/ui/app.js", "text/javascript; charset=utf-8"],
		["/ui/style.css", "text/css; charset=utf-8"]]) {
		const r = await fetch(URL0 + p);
		const h = (k) => r.headers.get(k) || "";
		if (r.status !== 200)
			fail(`GET ${p}: ${r.status}`);
		if (h("content-type") !== type)
			fail(`GET ${p}: Content-Type ${h("content-type")}, want ${type}`);
		if (h("x-content-type-options") !== "nosniff")
			fail(`GET ${p}: no X-Content-Type-Options: nosniff`);
		const csp = h("content-security-policy");
		for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'",
			"frame-ancestors 'none'", "object-src 'none'", "require-trusted-types-for 'script'"])
			if (!csp.includes(d))
				fail(`GET ${p}: the Content-Security-Policy lacks ${d}: ${csp}`);
		if (/unsafe-inline|unsafe-eval/.test(csp))
			fail(`GET ${p}: the CSP allows inline or eval: ${csp}`);
	}
	const r = await fetch(URL0 + "/ui/missing.js");
	if (r.status !== 404 || !(r.headers.get("content-type") || "").startsWith("application/problem+json"))
		fail(`GET /ui/missing.js: ${r.status} ${r.headers.get("content-type")}`);
	log("headers: CSP, nosniff and content types on /ui/ answers");
}

function spki(pemFile) {
	const der = createPublicKey(readFileSync(pemFile)).export({ type: "spki", format: "der" });
	return createHash("sha256").update(der).digest("base64");
}

async function main() {
	await checkHeaders();
	const args = ["--window-size=1280,900"];
	if (CERT)	// trust exactly the demo verifier's key, nothing else
		args.push(`--ignore-certificate-errors-spki-list=${spki(CERT)}`);
	const b = await Browser.launch({ args, log: process.env.DASH_VERBOSE ? log : () => {} });
	const bad = [];
	try {
		const page = await b.newPage();
		page.on((m, p) => {
			if (m === "Page.javascriptDialogOpening") {
				bad.push(`a ${p.type} dialog opened: ${p.message}`);
				page.send("Page.handleJavaScriptDialog", { accept: true }).catch(() => {});
			} else if (m === "Runtime.exceptionThrown") {
				bad.push(`page exception: ${p.exceptionDetails?.exception?.description || p.exceptionDetails?.text}`);
			}
		});
		await page.send("Page.enable");
		await page.send("Runtime.enable");
		await page.send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
		// CSP violations would mean something tried to inject.
		await page.send("Page.addScriptToEvaluateOnNewDocument", { source:
			"window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));" });
		const shot = async (name) => {
			await new Promise((r) => setTimeout(r, 200));
			writeFileSync(`${SHOTS}/${name}.png`, await page.screenshot());
			log(`screenshot ${SHOTS}/${name}.png`);
		};
		const signIn = async (tok, what) => {
			await page.waitFor("document.querySelector('#signin #token')", "the sign-in form");
			await page.eval(`(() => { const i = document.getElementById('token'); i.value = ${JSON.stringify(tok)};
				document.querySelector('#signin button[type=submit]').click(); return 1; })()`);
			await page.waitFor(`document.getElementById('who').textContent === 'signed in as ${what}'`, `signed in as ${what}`);
		};

		await page.goto(`${URL0}/ui/`);
		await shot("signin");
		await signIn(OP, "operator");
		if (await page.eval("sessionStorage.getItem('vigil.token') === " + JSON.stringify(OP)) !== true)
			fail("the token is not kept in sessionStorage");
		if (await page.eval("localStorage.length") !== 0 || await page.eval("document.cookie") !== "")
			fail("the token leaked into localStorage or a cookie");
		await page.waitFor("document.querySelectorAll('#tiles .tile').length === 4", "the fleet tiles");
		await page.waitFor("document.getElementById('live').dataset.state === 'live'", "the event stream");

		// The fleet counts are GET /v1/nodes'.
		const nodes = (await api("/v1/nodes?limit=500", OP)).items;
		const want = { affirming: 0, warning: 0, contraindicated: 0, none: 0 };
		for (const n of nodes)
			want[n.status]++;
		const got = await page.eval(`Object.fromEntries([...document.querySelectorAll('#tiles .tile')].map((t) =>
			[t.dataset.status, Number(t.querySelector('.count').textContent)]))`);
		for (const k of Object.keys(want))
			if (got[k] !== want[k])
				fail(`fleet tile ${k} shows ${got[k]}, GET /v1/nodes has ${want[k]}`);
		const rows = await page.eval("document.querySelectorAll('#nodes tr').length");
		if (rows !== nodes.length)
			fail(`the node table has ${rows} rows, GET /v1/nodes ${nodes.length}`);
		log(`fleet counts match GET /v1/nodes: ${JSON.stringify(want)}`);

		// A hostile host name is text.
		const host = await page.eval(`document.querySelector('#nodes tr[data-id="${HOSTILE_NODE}"] td.host').textContent`);
		if (host !== HOSTILE_HOST)
			fail(`the hostile node's host name shows as ${JSON.stringify(host)}, not ${JSON.stringify(HOSTILE_HOST)}`);
		if (await page.eval("document.querySelectorAll('img').length") !== 0)
			fail("an <img> element appeared in the page: markup from data was parsed");

		// Filter and sort.
		await page.eval("(() => { const f = document.getElementById('filter'); f.value = 'node1'; f.dispatchEvent(new Event('input')); return 1; })()");
		const filtered = await page.eval("[...document.querySelectorAll('#nodes td.host')].map((t) => t.textContent)");
		if (filtered.length !== 1 || filtered[0] !== "node1")
			fail(`filtering by node1 shows ${JSON.stringify(filtered)}`);
		await page.eval("(() => { const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input')); document.querySelector('th[data-sort=hostname]').click(); return 1; })()");
		const sorted = await page.eval("[...document.querySelectorAll('#nodes td.host')].map((t) => t.textContent)");
		if (JSON.stringify(sorted) !== JSON.stringify([...sorted].sort().reverse()) &&
		    JSON.stringify(sorted) !== JSON.stringify([...sorted].sort()))
			fail(`sorting by host name gives ${JSON.stringify(sorted)}`);
		await page.eval("document.querySelector('th[data-sort=changed]').click(), 1");

		// Tampering, watched live: the page is not reloaded.
		await page.eval("window.__same_page = 42");
		log(`extending PCR 7 of ${TAMPER} (the page stays open)`);
		execFileSync("tpm2_pcrextend", [`7:sha256=${createHash("sha256").update("dashboard tamper").digest("hex")}`],
			{ env: { ...process.env, TPM2TOOLS_TCTI: TAMPER_TCTI }, stdio: "ignore" });
		const t0 = Date.now();
		await page.waitFor(`document.querySelector('#nodes tr[data-id="${TAMPER}"]')?.dataset.status === 'contraindicated'`,
			"the tampered node to turn contraindicated on the open page", 20000);
		if (await page.eval("window.__same_page") !== 42)
			fail("the page was reloaded");
		log(`the tampered node shows contraindicated after ${Date.now() - t0} ms, no reload`);
		await page.waitFor("document.querySelector('#tiles .tile[data-status=contraindicated] .count').textContent === '1'",
			"the contraindicated tile to count 1");
		await page.waitFor(`document.querySelector('#recent li')?.dataset.id === '${TAMPER}'`, "the tampered node first in 'changed recently'");
		await shot("fleet");

		// The node's page: status, reasons, vector, history, SMM log.
		await page.eval(`location.hash = '#/node/${TAMPER}'`);
		await page.waitFor(`document.querySelector('h1[data-id="${TAMPER}"] #node-status .badge')?.dataset.status === 'contraindicated'`, "the node page");
		const reasons = await page.eval("[...document.querySelectorAll('#reasons li')].map((l) => l.textContent)");
		if (reasons.length === 0)
			fail("the contraindicated node's page gives no reason");
		if (await page.eval("document.querySelectorAll('svg.chart rect.bar').length") < 1)
			fail("the appraisal history chart has no bar");
		if (await page.eval("document.querySelectorAll('#vector tbody tr').length") < 4)
			fail("the trust vector table is short");
		log(`node page: reasons ${JSON.stringify(reasons.slice(0, 2))}`);
		await shot("node");

		await page.eval(`location.hash = '#/node/${HOSTILE_NODE}'`);
		await page.waitFor(`document.querySelector('h1[data-id="${HOSTILE_NODE}"] #node-host')`, "the hostile node's page");
		if (await page.eval("document.getElementById('node-host').textContent") !== HOSTILE_HOST)
			fail("the hostile node's page does not show its host name as text");

		// Computations: a hostile name, checkpoints, the replay.
		await page.eval("location.hash = '#/computations'");
		await page.waitFor("document.querySelector('#comp-table td.name')", "the computations table");
		const cname = await page.eval(`document.querySelector('#comp-table tr[data-id="${HOSTILE_COMP}"] td.name').textContent`);
		if (cname !== HOSTILE_NAME)
			fail(`the computation's name shows as ${JSON.stringify(cname)}`);
		await page.eval(`location.hash = '#/computation/${HOSTILE_COMP}'`);
		await page.waitFor("document.querySelector('#replay')?.dataset.status === 'match'", "the computation's replay: match");
		if (await page.eval("document.getElementById('comp-name').textContent") !== HOSTILE_NAME)
			fail("the computation page does not show its name as text");
		await shot("computation");

		await page.eval("location.hash = '#/audit'");
		await page.waitFor("document.querySelectorAll('#audit tr').length > 0", "the audit log");
		await shot("audit");

		// Tenants: their own VMs only.
		await page.eval("document.getElementById('signout').click(), 1");
		await signIn(GLOBEX, "tenant");
		await page.waitFor("document.querySelector('#vm-table')", "globex's VM table");
		const gtext = await page.eval("document.body.innerText");
		if (gtext.includes(ACME_VM.slice(0, 16)))
			fail("tenant globex sees acme's VM");
		if (!gtext.includes(GLOBEX_VM.slice(0, 16)))
			fail("tenant globex does not see its own VM");
		const nav = await page.eval("[...document.querySelectorAll('#nav a')].map((a) => a.textContent)");
		if (nav.includes("Fleet") || nav.includes("Audit log"))
			fail(`a tenant is offered ${JSON.stringify(nav)}`);
		log("tenant globex sees its VM and not acme's");
		await page.eval("document.getElementById('signout').click(), 1");
		await signIn(ACME, "tenant");
		await page.waitFor(`document.querySelector('#vm-table tr[data-id="${ACME_VM}"]')`, "acme's VM");
		if ((await page.eval("document.body.innerText")).includes(GLOBEX_VM.slice(0, 16)))
			fail("tenant acme sees globex's VM");
		await page.eval(`location.hash = '#/vm/${ACME_VM}'`);
		await page.waitFor("document.querySelectorAll('.placements tbody tr').length > 0", "acme's VM placement history");
		await shot("vm");

		const csp = await page.eval("window.__csp");
		if (csp.length > 0)
			bad.push(`CSP violations: ${JSON.stringify(csp)}`);
		if (bad.length > 0)
			fail(bad.join("; "));
	} finally {
		await b.close();
	}
}

mkdirSync(SHOTS, { recursive: true });
main().then(() => {
	console.log("PASS: the dashboard signs in, counts the fleet, shows tampering live, keeps tenants apart and renders hostile names as text");
	process.exit(0);
}, (e) => {
	console.log(`FAIL: ${e.message}`);
	process.exit(1);
});
