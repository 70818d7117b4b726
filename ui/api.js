// The public REST API, with the token the user signed in with. The token
// lives in sessionStorage: this tab only, gone when it closes; it is sent
// only in the Authorization header, never in a URL.

const KEY = "vigil.token";

export const token = {
	get: () => sessionStorage.getItem(KEY),
	set: (t) => sessionStorage.setItem(KEY, t),
	clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
	constructor(status, problem, path) {
		const detail = problem && typeof problem.detail === "string" ?
			problem.detail : `HTTP ${status}`;
		super(`${path}: ${detail}`);
		this.status = status;
		this.problem = problem;
	}
}

function headers(extra) {
	return Object.assign({
		Authorization: `Bearer ${token.get() || ""}`,
		Accept: "application/json",
	}, extra || {});
}

// GET path (starting with /v1/) -> the JSON body; ApiError otherwise.
export async function get(path) {
	const r = await fetch(path, {
		headers: headers(), cache: "no-store", credentials: "omit",
		redirect: "error",
	});
	if (!r.ok) {
		let p = null;
		try { p = await r.json(); } catch (e) { /* not JSON */ }
		throw new ApiError(r.status, p, path);
	}
	return r.json();
}

// Every page of a cursor-paginated list: items under key, next_cursor.
export async function all(path, key = "items", max = 5000) {
	const out = [];
	let cursor = null;
	for (;;) {
		const sep = path.includes("?") ? "&" : "?";
		const q = cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : "";
		const page = await get(path + q);
		out.push(...(page[key] || []));
		cursor = page.next_cursor;
		if (!cursor || out.length >= max)
			return out;
	}
}

// Who the token is: "operator", "tenant", or null (refused).
export async function whoami() {
	try {
		await get("/v1/nodes?limit=1");
		return "operator";
	} catch (e) {
		if (e.status === 403)
			return "tenant";
		if (e.status === 401)
			return null;
		throw e;
	}
}

// GET /v1/events as a server-sent event stream read with fetch (an
// EventSource cannot send the Authorization header). From the first
// stored event on (the page learns when each node last changed), then
// live; after a drop it resumes with Last-Event-ID. onEvent gets each
// event's JSON, onState "live", "reconnecting" or "refused".
export function events(onEvent, onState) {
	const ctl = new AbortController();
	let last = null, retry = 3000, closed = false;

	async function once() {
		const h = headers({ Accept: "text/event-stream" });
		if (last !== null)
			h["Last-Event-ID"] = last;
		const r = await fetch(last === null ? "/v1/events?after=0" :
			"/v1/events", {
			headers: h, cache: "no-store", credentials: "omit",
			signal: ctl.signal,
		});
		if (r.status === 401 || r.status === 403) {
			onState("refused");
			closed = true;
			return;
		}
		if (!r.ok || !r.body)
			throw new Error(`events: HTTP ${r.status}`);
		onState("live");
		const rd = r.body.pipeThrough(new TextDecoderStream()).getReader();
		let buf = "";
		for (;;) {
			const { value, done } = await rd.read();
			if (done)
				return;
			buf += value.replace(/\r\n?/g, "\n");
			let i;
			while ((i = buf.indexOf("\n\n")) >= 0) {
				dispatch(buf.slice(0, i));
				buf = buf.slice(i + 2);
			}
		}
	}

	function dispatch(block) {
		let id = null, data = [];
		for (const line of block.split("\n")) {
			if (line.startsWith(":"))
				continue;
			const c = line.indexOf(":");
			const f = c < 0 ? line : line.slice(0, c);
			let v = c < 0 ? "" : line.slice(c + 1);
			if (v.startsWith(" "))
				v = v.slice(1);
			if (f === "id")
				id = v;
			else if (f === "data")
				data.push(v);
			else if (f === "retry" && /^[0-9]+$/.test(v))
				retry = Math.max(1000, Number(v));
		}
		if (id !== null)
			last = id;
		if (data.length === 0)
			return;
		let ev;
		try { ev = JSON.parse(data.join("\n")); } catch (e) { return; }
		onEvent(ev);
	}

	(async () => {
		while (!closed) {
			try {
				await once();
			} catch (e) {
				if (ctl.signal.aborted)
					return;
			}
			if (closed)
				return;
			onState("reconnecting");
			await new Promise((res) => setTimeout(res, retry));
		}
	})();
	return { close() { closed = true; ctl.abort(); } };
}
