// salesgraph as a subgraph of a company graph, with Apollo's own tools: @apollo/composition
// composes a supergraph from salesgraph's SDL (`_service { sdl }`) and a small "dealers"
// subgraph (@apollo/subgraph) that extends Country and references CarModel; @apollo/gateway
// serves it, forwarding each viewer's Authorization to salesgraph. Every answer that crosses
// the two services is checked against salesgraph's own answer to the same question.
//
// usage: node federation.mjs <salesgraph /graphql URL> <admin token> <analyst token> <manager token>
import assert from 'node:assert/strict';
import { parse } from 'graphql';
import gql from 'graphql-tag';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, LocalGraphQLDataSource, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';

const [url, adminToken, analystToken, managerToken] = process.argv.slice(2);
const bearer = (token) => `Bearer ${token}`;

async function salesgraph(query, token) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: bearer(token) },
    body: JSON.stringify({ query }),
  });
  return response.json();
}

let checks = 0;
function check(condition, message) {
  assert.ok(condition, message);
  checks += 1;
}

// The catalogue the dealers point into, read from salesgraph itself.
const catalogue = await salesgraph('{ models { id name } countries { code } }', adminToken);
const modelId = (name) => catalogue.data.models.find((m) => m.name === name).id;
const dealers = [
  { id: 'd1', name: 'Autohaus Nord', country: 'DE', bestSeller: modelId('X5') },
  { id: 'd2', name: 'Bavaria Motors', country: 'DE', bestSeller: modelId('3 Series') },
  { id: 'd3', name: 'Pacific BMW', country: 'US', bestSeller: modelId('X3') },
  { id: 'd4', name: 'Thames Cars', country: 'GB', bestSeller: modelId('i4') },
  { id: 'd5', name: 'Orphan Motors', country: 'DE', bestSeller: '999999' },
];

const dealersTypeDefs = gql`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type Query {
    dealers: [Dealer!]!
  }

  type Dealer @key(fields: "id") {
    id: ID!
    name: String!
    country: Country!
    bestSeller: CarModel
  }

  type Country @key(fields: "code") {
    code: String!
    dealers: [Dealer!]!
  }

  type CarModel @key(fields: "id", resolvable: false) {
    id: ID!
  }
`;
const dealersSchema = buildSubgraphSchema({
  typeDefs: dealersTypeDefs,
  resolvers: {
    Query: { dealers: () => dealers },
    Dealer: {
      __resolveReference: ({ id }) => dealers.find((d) => d.id === id),
      country: (dealer) => ({ code: dealer.country }),
      bestSeller: (dealer) => ({ id: dealer.bestSeller }),
    },
    Country: {
      __resolveReference: ({ code }) => ({ code }),
      dealers: ({ code }) => dealers.filter((d) => d.country === code),
    },
  },
});

// Composition: salesgraph's subgraph SDL exactly as a router would fetch it.
const service = await salesgraph('{ _service { sdl } }', adminToken);
const sdl = service.data._service.sdl;
check(sdl.includes('specs.apollo.dev/federation/v2'), 'the SDL links federation v2');
const composed = composeServices([
  { name: 'salesgraph', typeDefs: parse(sdl), url },
  { name: 'dealers', typeDefs: dealersTypeDefs, url: 'local://dealers' },
]);
const errors = (composed.errors ?? []).map((e) => e.message);
check(errors.length === 0, `composition failed:\n${errors.join('\n')}`);
const salesgraphTypes = [...sdl.matchAll(/^(?:type|enum|input|scalar|union|interface) (\w+)/gm)].map((m) => m[1]);
const hints = (composed.hints ?? []).map((h) => `${h.definition.code}: ${h.message}`);
const aboutSalesgraph = hints.filter((h) => salesgraphTypes.some((t) => new RegExp(`\\b${t}\\b`).test(h)));
for (const hint of hints) console.log(`hint: ${hint}`);
check(aboutSalesgraph.length === 0, `composition hints about salesgraph's types:\n${aboutSalesgraph.join('\n')}`);

// The gateway: dealers in process, salesgraph over HTTP with the viewer's own token.
const gateway = new ApolloGateway({
  supergraphSdl: composed.supergraphSdl,
  buildService({ name, url: serviceUrl }) {
    if (name === 'dealers') return new LocalGraphQLDataSource(dealersSchema);
    return new RemoteGraphQLDataSource({
      url: serviceUrl,
      willSendRequest({ request, context }) {
        if (context.authorization) request.http.headers.set('authorization', context.authorization);
      },
    });
  },
});
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
await server.start();

async function throughGateway(query, token) {
  const response = await server.executeOperation(
    { query },
    { contextValue: { authorization: token ? bearer(token) : undefined } },
  );
  assert.equal(response.body.kind, 'single');
  return response.body.singleResult;
}
const codes = (result) => (result.errors ?? []).map((e) => e.extensions?.code).sort();

// A dealer's country and best seller come from salesgraph, as salesgraph alone answers them.
const direct = await salesgraph('{ models { id name bodyType basePrice } countries { code name region } }', adminToken);
const crossing = await throughGateway(
  '{ dealers { name country { code name region } bestSeller { id name bodyType basePrice } } }',
  adminToken,
);
check(!crossing.errors, `errors through the gateway: ${JSON.stringify(crossing.errors)}`);
for (const [index, dealer] of crossing.data.dealers.entries()) {
  const source = dealers[index];
  check(
    JSON.stringify(dealer.country) === JSON.stringify(direct.data.countries.find((c) => c.code === source.country)),
    `${dealer.name}'s country differs from salesgraph's`,
  );
  const model = direct.data.models.find((m) => m.id === source.bestSeller) ?? null;
  check(JSON.stringify(dealer.bestSeller) === JSON.stringify(model), `${dealer.name}'s best seller differs`);
}
check(crossing.data.dealers.at(-1).bestSeller === null, 'a dangling model reference resolves to null');

// From salesgraph into dealers: each European market's dealers beside salesgraph's figures.
const figures = '{ topModels(filter: {countries: ["DE"]}, limit: 3) { model { name } units revenue } }';
const alone = await salesgraph(figures, adminToken);
const both = await throughGateway(
  `{ countries(region: "Europe") { code dealers { name } } ${figures.slice(1, -1)} }`,
  adminToken,
);
check(!both.errors, `errors through the gateway: ${JSON.stringify(both.errors)}`);
check(JSON.stringify(both.data.topModels) === JSON.stringify(alone.data.topModels), 'top models differ through the gateway');
const germany = both.data.countries.find((c) => c.code === 'DE');
check(
  JSON.stringify(germany.dealers.map((d) => d.name)) ===
    JSON.stringify(dealers.filter((d) => d.country === 'DE').map((d) => d.name)),
  'the dealers of Germany',
);

// The policy holds through the router: an analyst's money is FORBIDDEN, the code kept.
const analyst = await throughGateway('{ dealers { name bestSeller { name basePrice } } }', analystToken);
check(codes(analyst).length > 0 && codes(analyst).every((c) => c === 'FORBIDDEN'), `analyst: ${JSON.stringify(analyst.errors)}`);
// Each refusal lands on its own dealer's price, as salesgraph's error paths point the router.
const refusedPaths = analyst.errors.map((e) => JSON.stringify(e.path)).sort();
const pricedDealers = dealers
  .map((d, index) => [d, index])
  .filter(([d]) => catalogue.data.models.some((m) => m.id === d.bestSeller))
  .map(([, index]) => JSON.stringify(['dealers', index, 'bestSeller', 'basePrice']))
  .sort();
check(JSON.stringify(refusedPaths) === JSON.stringify(pricedDealers), `error paths: ${refusedPaths} vs ${pricedDealers}`);
check(
  analyst.data.dealers.filter((d) => d.bestSeller).every((d) => d.bestSeller.basePrice === null && d.bestSeller.name),
  'an analyst sees names without prices',
);

// A manager's regions bound the figures whichever service the query starts from.
const managerFigures = '{ topModels(filter: {countries: ["US"]}, limit: 3) { model { name } units } }';
const managerAlone = await salesgraph(managerFigures, managerToken);
const managerBoth = await throughGateway(`{ dealers { name country { code } } ${managerFigures.slice(1, -1)} }`, managerToken);
check(
  JSON.stringify(managerBoth.data?.topModels ?? null) === JSON.stringify(managerAlone.data?.topModels ?? null) &&
    JSON.stringify(codes(managerBoth)) === JSON.stringify(codes(managerAlone)),
  `a manager's figures differ through the gateway: ${JSON.stringify(managerBoth)} vs ${JSON.stringify(managerAlone)}`,
);

// A token salesgraph refuses is refused through the router too.
const refused = await throughGateway('{ dealers { name country { name } } }', 'not-a-token');
check(
  (refused.errors ?? []).length > 0 && codes(refused).every((c) => c === 'UNAUTHENTICATED'),
  `a bad token is refused through the gateway: ${JSON.stringify(refused.errors)}`,
);

await server.stop();
console.log(`federation: ${checks} checks pass`);
