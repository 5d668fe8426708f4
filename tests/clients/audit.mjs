// The GraphQL over HTTP audit suite (graphql-http's serverAudits) against a running server.
//   node audit.mjs http://127.0.0.1:8080/graphql <token>
// Prints each audit and exits 1 when any does not pass (MUST, SHOULD and MAY alike).
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node audit.mjs URL TOKEN');
  process.exit(2);
}

// Every request carries the bearer token, as a configured client would.
const fetchWithToken = (input, init = {}) => {
  const headers = new Headers(init.headers || (input instanceof Request ? input.headers : undefined));
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn: fetchWithToken });
let failed = 0;
for (const result of results) {
  const ok = result.status === 'ok';
  if (!ok) failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${result.id} ${result.name}${ok ? '' : `: ${result.reason}`}`);
}
console.log(`graphql-http audits: ${results.length - failed} of ${results.length} pass`);
process.exit(failed === 0 ? 0 : 1);
