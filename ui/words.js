// Plain words for statuses and trustworthiness claims (docs/appraisal.md:
// AR4SI values 2 affirming, 32-95 warning, 96+ contraindicated, 0 no claim).

export const TIERS = ["affirming", "warning", "contraindicated", "none"];

export const TIER_WORDS = {
	affirming: "trusted: every check of its latest evidence passed",
	warning: "usable with care: something could not be checked, or is unusual",
	contraindicated: "not trusted: a check of its evidence failed",
	none: "no current verdict: no fresh quote (stale, stopped) or not appraised yet",
};

export function tierOf(v) {
	if (typeof v !== "number")
		return "none";
	if (v >= 96)
		return "contraindicated";
	if (v >= 32)
		return "warning";
	if (v >= 2)
		return "affirming";
	return "none";
}

export function tierName(s) {
	return TIERS.includes(s) ? s : "none";
}

export const CLAIMS = {
	"instance-identity": "the node is the TPM it enrolled with, and the quote is fresh and signed by its AK",
	"hardware": "a genuine TPM (EK certificate from a trusted vendor CA) and platform enclave",
	"executables": "firmware and hypervisor images (PCRs 0 and 4) match reference values",
	"configuration": "platform configuration, SMM and enclave keys, boot policy (PCRs 1-3, 5-7, 11)",
	"runtime-opaque": "the running hypervisor, measured from below by the SMM service",
};

const SPECIFIC = {
	"executables:33": "no reference value to compare with",
	"configuration:32": "no reference value, a TPM restart, or a clock that is not safe",
	"runtime-opaque:32": "no signed SMM log head yet, or a region without a reference",
	"hardware:97": "not recognised",
};

export function claimWords(claim, v) {
	const s = SPECIFIC[`${claim}:${v}`];
	if (s)
		return s;
	switch (tierOf(v)) {
	case "affirming": return "checks out";
	case "warning": return "could not be fully checked";
	case "contraindicated": return "failed: see the reasons";
	default: return "no claim made";
	}
}

// "2026-12-08T02:01:46Z" -> "2026-12-08 02:01:46 UTC".
export function when(iso) {
	if (typeof iso !== "string" || iso === "")
		return "-";
	return iso.replace("T", " ").replace(/Z$/, " UTC");
}

// How long ago, in words ("12 s ago", "3 min ago").
export function ago(iso, now = Date.now()) {
	const t = Date.parse(iso);
	if (Number.isNaN(t))
		return "";
	const s = Math.max(0, Math.round((now - t) / 1000));
	if (s < 90)
		return `${s} s ago`;
	if (s < 5400)
		return `${Math.round(s / 60)} min ago`;
	if (s < 48 * 3600)
		return `${Math.round(s / 3600)} h ago`;
	return `${Math.round(s / 86400)} days ago`;
}

export function short(id, n = 12) {
	return typeof id === "string" && id.length > n ? `${id.slice(0, n)}…` : String(id ?? "-");
}
