// A small Chrome DevTools Protocol client over --remote-debugging-pipe
// (file descriptors 3 and 4, messages ended by a NUL byte): enough to drive
// one page of headless Chromium from a test, with no npm dependency.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class Browser {
	// Starts Chromium (CHROMIUM or "chromium") headless with a fresh profile.
	static async launch({ args = [], log = () => {} } = {}) {
		const dir = mkdtempSync(join(tmpdir(), "vigil-chromium."));
		const bin = process.env.CHROMIUM || "chromium";
		const proc = spawn(bin, [
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync",
			"--disable-dev-shm-usage", "--remote-debugging-pipe",
			`--user-data-dir=${dir}`, ...args, "about:blank",
		], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
		proc.stderr.on("data", (d) => log(`chromium: ${String(d).trimEnd()}`));
		const b = new Browser(proc, dir);
		await b.send("Target.setDiscoverTargets", { discover: true });
		return b;
	}

	constructor(proc, dir) {
		this.proc = proc;
		this.dir = dir;
		this.next = 1;
		this.waiting = new Map();
		this.handlers = new Map();	// sessionId -> fn(method, params)
		this.exited = false;
		let buf = Buffer.alloc(0);
		proc.stdio[4].on("data", (d) => {
			buf = Buffer.concat([buf, d]);
			let i;
			while ((i = buf.indexOf(0)) >= 0) {
				const msg = JSON.parse(buf.subarray(0, i).toString("utf8"));
				buf = buf.subarray(i + 1);
				this.onMessage(msg);
			}
		});
		proc.on("exit", () => {
			this.exited = true;
			for (const { reject } of this.waiting.values())
				reject(new Error("chromium exited"));
			this.waiting.clear();
		});
	}

	onMessage(m) {
		if (m.id !== undefined) {
			const w = this.waiting.get(m.id);
			if (!w)
				return;
			this.waiting.delete(m.id);
			if (m.error)
				w.reject(new Error(`${w.method}: ${m.error.message}`));
			else
				w.resolve(m.result);
			return;
		}
		const h = this.handlers.get(m.sessionId || "");
		if (h)
			h(m.method, m.params);
	}

	send(method, params = {}, sessionId) {
		if (this.exited)
			return Promise.reject(new Error("chromium exited"));
		const id = this.next++;
		const msg = { id, method, params };
		if (sessionId)
			msg.sessionId = sessionId;
		return new Promise((resolve, reject) => {
			this.waiting.set(id, { resolve, reject, method });
			this.proc.stdio[3].write(JSON.stringify(msg) + "\0");
		});
	}

	// A new page (tab) with its own flat session.
	async newPage() {
		const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
		const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
		return new Page(this, sessionId);
	}

	async close() {
		try {
			await Promise.race([this.send("Browser.close"),
				new Promise((r) => setTimeout(r, 3000))]);
		} catch (e) { /* gone already */ }
		if (!this.exited) {
			const gone = new Promise((r) => this.proc.once("exit", r));
			this.proc.kill("SIGKILL");
			await gone;
		}
		try {
			rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
		} catch (e) { /* a profile left in the temporary folder */ }
	}
}

export class Page {
	constructor(browser, sessionId) {
		this.b = browser;
		this.sid = sessionId;
		this.listeners = [];
		browser.handlers.set(sessionId, (m, p) => {
			for (const fn of this.listeners)
				fn(m, p);
		});
	}

	send(method, params) {
		return this.b.send(method, params, this.sid);
	}

	on(fn) {
		this.listeners.push(fn);
	}

	// Evaluates an expression in the page; its value (awaited, by value).
	async eval(expression) {
		const r = await this.send("Runtime.evaluate", {
			expression, awaitPromise: true, returnByValue: true,
		});
		if (r.exceptionDetails)
			throw new Error(`page: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
		return r.result.value;
	}

	// Polls expression until it is truthy; its value, or throws what.
	async waitFor(expression, what, timeoutMs = 10000) {
		const end = Date.now() + timeoutMs;
		for (;;) {
			const v = await this.eval(expression).catch(() => undefined);
			if (v)
				return v;
			if (Date.now() > end)
				throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	async goto(url) {
		const loaded = new Promise((res) => {
			const fn = (m) => { if (m === "Page.loadEventFired") res(); };
			this.listeners.push(fn);
		});
		const r = await this.send("Page.navigate", { url });
		if (r.errorText)
			throw new Error(`navigating to ${url}: ${r.errorText}`);
		await loaded;
	}

	// A PNG of the whole page, as a Buffer.
	async screenshot() {
		const m = await this.send("Page.getLayoutMetrics");
		const s = m.cssContentSize || m.contentSize;
		const r = await this.send("Page.captureScreenshot", {
			format: "png", captureBeyondViewport: true,
			clip: { x: 0, y: 0, width: Math.ceil(s.width), height: Math.min(Math.ceil(s.height), 4000), scale: 1 },
		});
		return Buffer.from(r.data, "base64");
	}
}
