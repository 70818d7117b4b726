#!/usr/bin/env node
// Checks that docs/openapi.json is true (issue 13).
//   node check.js doc DOC
//     validates DOC as an OpenAPI 3 document (swagger-parser: the schema
//     of the OpenAPI spec, and every $ref resolves)
//   node check.js coverage DOC
//     lists the success bodies whose schemas name every field, and the rest
//   node check.js body DOC METHOD PATH STATUS CONTENT-TYPE FILE
//     validates the response body in FILE, which METHOD PATH answered with
//     STATUS and CONTENT-TYPE, against the schema DOC gives that response
//     (ajv). A response DOC does not describe (route, status or media
//     type) fails too, and so does a field the schema does not list where
//     it says additionalProperties: false.
// Exit 0: valid; 1: not (each error on a line); 2: usage.
'use strict';
const fs = require('fs');

function usage() {
	process.stderr.write('usage: check.js doc DOC | body DOC METHOD PATH STATUS CONTENT-TYPE FILE\n');
	process.exit(2);
}

async function checkDoc(file) {
	const SwaggerParser = require('@apidevtools/swagger-parser');
	try {
		await SwaggerParser.validate(file);
	} catch (e) {
		process.stdout.write(`${file}: not a valid OpenAPI document: ${e.message}\n`);
		process.exit(1);
	}
	// Vigil's own rule: every error answer of every route is problem+json
	// (docs/verifier.md), with the Problem schema.
	const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
	const bad = [];
	for (const [tmpl, item] of Object.entries(doc.paths))
		for (const [method, op] of Object.entries(item))
			for (const [status, r0] of Object.entries(op.responses || {})) {
				if (!/^[45]/.test(status))
					continue;
				const r = r0.$ref ? deref(doc, r0.$ref) : r0;
				const types = Object.keys(r.content || {});
				const schema = types.length === 1 && r.content[types[0]].schema;
				if (types.length !== 1 || types[0] !== 'application/problem+json' ||
				    !schema || schema.$ref !== '#/components/schemas/Problem')
					bad.push(`${method.toUpperCase()} ${tmpl} ${status}`);
			}
	if (bad.length > 0) {
		process.stdout.write(`${file}: error answers that are not problem+json with the Problem schema:\n  ${bad.join('\n  ')}\n`);
		process.exit(1);
	}
	process.stdout.write(`${file}: valid OpenAPI ${doc.openapi}; every error answer is problem+json\n`);
}

// OpenAPI 3.0's "nullable: true" beside a composition ({allOf: [{$ref}],
// nullable: true}, the 3.0 way to say "this schema or null") as JSON
// Schema says it, for ajv, which takes nullable only beside a type.
function nullableToJsonSchema(node) {
	if (Array.isArray(node)) {
		node.forEach(nullableToJsonSchema);
		return;
	}
	if (node === null || typeof node !== 'object')
		return;
	for (const v of Object.values(node))
		nullableToJsonSchema(v);
	if (node.nullable === true && node.type === undefined &&
	    (node.allOf || node.oneOf || node.anyOf || node.$ref)) {
		const rest = Object.assign({}, node);
		delete rest.nullable;
		for (const k of Object.keys(node))
			delete node[k];
		node.anyOf = [rest, { type: 'null' }];
	}
}

function deref(doc, ref) {
	return ref.replace(/^#\//, '').split('/').reduce((o, p) =>
	    o[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

// Whether a schema lists its fields all the way down: every object has
// properties, required and additionalProperties: false (or is a map
// with an additionalProperties schema), every array has items.
function complete(doc, s, seen) {
	if (s.$ref) {
		if (seen.has(s.$ref))
			return true;
		seen.add(s.$ref);
		return complete(doc, deref(doc, s.$ref), seen);
	}
	if (s.allOf || s.oneOf || s.anyOf)
		return (s.allOf || s.oneOf || s.anyOf).every((x) => complete(doc, x, seen));
	if (s.type === 'array')
		return s.items !== undefined && complete(doc, s.items, seen);
	if (s.type === 'object') {
		if (s.properties === undefined)
			return typeof s.additionalProperties === 'object' &&
			    complete(doc, s.additionalProperties, seen);
		return s.additionalProperties === false &&
		    Object.values(s.properties).every((x) => complete(doc, x, seen));
	}
	return s.type !== undefined || s.enum !== undefined;
}

// Lists each route's success bodies as complete or not.
function coverage(file) {
	const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
	const out = { complete: [], incomplete: [] };
	for (const [tmpl, item] of Object.entries(doc.paths))
		for (const [method, op] of Object.entries(item))
			for (const [status, r0] of Object.entries(op.responses || {})) {
				if (!/^2/.test(status))
					continue;
				const r = r0.$ref ? deref(doc, r0.$ref) : r0;
				for (const [media, c] of Object.entries(r.content || {})) {
					if (!/json$/.test(media))
						continue;
					const ok = c.schema && complete(doc, c.schema, new Set());
					out[ok ? 'complete' : 'incomplete'].push(`${method.toUpperCase()} ${tmpl} ${status}`);
				}
			}
	process.stdout.write(`complete (${out.complete.length}):\n  ${out.complete.join('\n  ')}\n` +
	    `incomplete (${out.incomplete.length}):\n  ${out.incomplete.join('\n  ')}\n`);
}

// The path template of DOC a concrete path belongs to: literal segments
// win over {parameters}, as the verifier's router does.
function findRoute(doc, path) {
	const segs = path.split('?')[0].split('/');
	let best = null, bestScore = -1;
	for (const tmpl of Object.keys(doc.paths)) {
		const t = tmpl.split('/');
		if (t.length !== segs.length)
			continue;
		let score = 0, ok = true;
		for (let i = 0; i < t.length && ok; i++) {
			if (/^\{[^}]+\}$/.test(t[i]))
				ok = segs[i].length > 0;
			else if (t[i] === segs[i])
				score++;
			else
				ok = false;
		}
		if (ok && score > bestScore) {
			best = tmpl;
			bestScore = score;
		}
	}
	return best;
}

function pointer(parts) {
	return '#/' + parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

function checkBody(file, method, path, status, ctype, bodyFile) {
	const Ajv = require('ajv');
	const addFormats = require('ajv-formats');
	const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
	const where = `${method} ${path} ${status}`;
	const fail = (msg) => {
		process.stdout.write(`${where}: ${msg}\n`);
		process.exit(1);
	};
	const tmpl = findRoute(doc, path);
	if (tmpl === null)
		fail(`no path of ${file} matches ${path}`);
	const op = doc.paths[tmpl][method.toLowerCase()];
	if (op === undefined)
		fail(`${file} has no ${method.toLowerCase()} under ${tmpl}`);
	let key = String(status);
	if (op.responses[key] === undefined)
		key = op.responses[`${key[0]}XX`] !== undefined ? `${key[0]}XX` : 'default';
	let resp = op.responses[key];
	if (resp === undefined)
		fail(`${file} does not document status ${status} of ${method} ${tmpl}`);
	let respPtr = ['paths', tmpl, method.toLowerCase(), 'responses', key];
	while (resp.$ref !== undefined) {
		const parts = resp.$ref.replace(/^#\//, '').split('/');
		respPtr = parts;
		resp = parts.reduce((o, p) => o[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
	}
	const media = (ctype || '').split(';')[0].trim();
	const body = fs.readFileSync(bodyFile, 'utf8');
	if (resp.content === undefined) {
		if (body.length !== 0)
			fail(`${file} documents no body for ${tmpl} ${key}, got ${body.length} bytes`);
		return;
	}
	if (resp.content[media] === undefined)
		fail(`${file} documents ${Object.keys(resp.content).join(', ')} for ${tmpl} ${key}, got "${media}"`);
	const schema = resp.content[media].schema;
	if (schema === undefined)
		fail(`${file} gives no schema for ${media} of ${tmpl} ${key}`);
	if (!/json$/.test(media))
		return;		// only JSON bodies have schemas to check here
	let value;
	try {
		value = JSON.parse(body);
	} catch (e) {
		fail(`the body is not JSON: ${e.message}`);
	}
	nullableToJsonSchema(doc);
	const ajv = new Ajv({ strict: false, allErrors: true });
	addFormats(ajv);
	ajv.addSchema(doc, 'openapi.json');
	const validate = ajv.compile({ $ref: 'openapi.json' +
	    pointer(respPtr.concat(['content', media, 'schema'])) });
	if (!validate(value)) {
		const lines = validate.errors.slice(0, 20).map((e) =>
		    `  ${e.instancePath || '(body)'} ${e.message}` +
		    (e.params && e.params.additionalProperty ? `: "${e.params.additionalProperty}"` : ''));
		fail(`the body does not match the schema of ${tmpl} ${key} (${file}):\n${lines.join('\n')}`);
	}
}

const a = process.argv.slice(2);
if (a[0] === 'doc' && a.length === 2)
	checkDoc(a[1]);
else if (a[0] === 'coverage' && a.length === 2)
	coverage(a[1]);
else if (a[0] === 'body' && a.length === 7)
	checkBody(a[1], a[2], a[3], a[4], a[5], a[6] === '-' ? '/dev/stdin' : a[6]);
else
	usage();
