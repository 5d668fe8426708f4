// A real graphql-ws client against /graphql/ws.
//   node subscribe.mjs ws://127.0.0.1:8080/graphql/ws TOKEN          prints "subscribed", then the first update
//   node subscribe.mjs ws://127.0.0.1:8080/graphql/ws BAD expect-close   prints the close code
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, mode] = process.argv.slice(2);
const timer = setTimeout(() => {
  console.error('timed out');
  process.exit(1);
}, 20000);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  lazy: false,
  on: {
    connected: () => {
      if (mode !== 'expect-close') console.log('subscribed');
    },
    closed: (event) => {
      if (mode === 'expect-close') {
        console.log(`closed ${event.code}`);
        clearTimeout(timer);
        process.exit(event.code === 4403 || event.code === 4401 ? 0 : 1);
      }
    },
  },
});

if (mode !== 'expect-close') {
  client.subscribe(
    { query: 'subscription { salesUpdated(filter: { countries: ["DE"] }) { version units rows lastSaleDay } }' },
    {
      next: (result) => {
        console.log(JSON.stringify(result));
        clearTimeout(timer);
        client.dispose();
        process.exit(result.errors ? 1 : 0);
      },
      error: (error) => {
        console.error('subscription error', JSON.stringify(error));
        process.exit(1);
      },
      complete: () => {},
    },
  );
}
