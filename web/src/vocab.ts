// The API's vocabulary (categories and accessibility features, labelled in
// English and Dutch by the API itself), read once per page load.
import { call } from './api';
import type { Term } from './types';

let terms: Promise<Map<string, Term>> | undefined;

export function vocabulary(): Promise<Map<string, Term>> {
  terms ??= call<{ terms: Term[] }>('GET', '/v1/vocabulary?page_size=1000').then((r) => new Map(r.terms.map((x) => [x.code, x])));
  return terms;
}
