// The OpenAPI documents in openapi/: validated as documents (swagger-parser), then used to
// validate real responses against the schema of their path, method and status (Ajv, JSON
// Schema 2020-12 as OpenAPI 3.1 uses).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ROOT } from './stack.mjs';

export const documentPath = (name) => join(ROOT, 'openapi', `${name}.json`);

/** Validates the document (throws with the reason) and returns it with $refs resolved. */
export async function loadDocument(name) {
  const raw = JSON.parse(readFileSync(documentPath(name), 'utf8'));
  await SwaggerParser.validate(structuredClone(raw));
  return SwaggerParser.dereference(structuredClone(raw));
}

export class ResponseChecker {
  constructor(document) {
    this.document = document;
    this.ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(this.ajv);
    this.compiled = new Map();
    this.checked = new Set();
  }

  /** Asserts that `response` ({status, headers, json}) matches the document for `path` + `method`. */
  check(path, method, response) {
    const operation = this.document.paths[path]?.[method];
    assert.ok(operation, `${method.toUpperCase()} ${path} is not documented`);
    const documented = operation.responses[String(response.status)];
    assert.ok(documented, `${method.toUpperCase()} ${path} → ${response.status} is not documented`);
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const value = response.headers.get(name);
      if (value !== null && header.schema?.enum) assert.ok(header.schema.enum.includes(value), `header ${name}: ${value}`);
    }
    const type = (response.headers.get('content-type') ?? '').split(';')[0];
    const content = documented.content;
    if (!content) return;
    assert.ok(content[type], `${path} → ${response.status}: content-type ${type} is not documented`);
    if (type !== 'application/json') return;
    const key = `${method} ${path} ${response.status}`;
    if (!this.compiled.has(key)) this.compiled.set(key, this.ajv.compile(content[type].schema));
    const validate = this.compiled.get(key);
    assert.ok(validate(response.json), `${key}: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(response.json).slice(0, 500)}`);
    this.checked.add(key);
  }
}
