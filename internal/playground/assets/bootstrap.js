// Mounts GraphiQL. This file is served as a same-origin script rather than
// inlined so the page works under `script-src 'self'`; the server hands over
// its configuration through data- attributes on the mount element for the
// same reason.
(function () {
  'use strict';

  // A schema-agnostic example would teach nothing; `me` is the first thing
  // someone holding a token wants to check.
  var DEFAULT_QUERY = [
    '# Add #token=<jwt> to the URL to send a bearer token;',
    '# browsers keep the fragment out of server logs.',
    'query Me {',
    '  me {',
    '    id',
    '    name',
    '    email',
    '  }',
    '}',
    '',
  ].join('\n');

  var root = document.getElementById('graphiql');
  var config = root.dataset;

  // Reads the token from the fragment and then drops it from the address bar,
  // so it does not linger in browser history or leak into a shared screenshot
  // or copied link.
  function takeToken() {
    var token = new URLSearchParams(location.hash.slice(1)).get('token');
    if (token) {
      history.replaceState(history.state, '', location.pathname + location.search);
    }
    return token;
  }

  // The server only knows the websocket path; scheme and host must follow the
  // page so that TLS termination and reverse proxies keep working.
  function websocketURL(path) {
    var url = new URL(path, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  // GraphiQL saves every run's headers with its history and favorites in
  // localStorage, even with shouldPersistHeaders off, which would persist the
  // bearer token. This mirrors GraphiQL's default storage but strips headers
  // from those entries, and stores nothing if their format is not understood.
  function credentialFreeStorage() {
    var NAMESPACE = 'graphiql:';
    var HISTORY_KEYS = [NAMESPACE + 'queries', NAMESPACE + 'favorites'];

    function ownKeys() {
      return Object.keys(localStorage).filter(function (key) {
        return key.indexOf(NAMESPACE) === 0;
      });
    }

    function withoutHeaders(value) {
      try {
        var saved = JSON.parse(value);
        saved.queries.forEach(function (entry) {
          delete entry.headers;
        });
        return JSON.stringify(saved);
      } catch (e) {
        return null;
      }
    }

    return {
      getItem: function (key) {
        return localStorage.getItem(key);
      },
      setItem: function (key, value) {
        if (HISTORY_KEYS.indexOf(key) !== -1) {
          value = withoutHeaders(value);
          if (value === null) {
            localStorage.removeItem(key);
            return;
          }
        }
        localStorage.setItem(key, value);
      },
      removeItem: function (key) {
        localStorage.removeItem(key);
      },
      get length() {
        return ownKeys().length;
      },
      clear: function () {
        ownKeys().forEach(function (key) {
          localStorage.removeItem(key);
        });
      },
    };
  }

  var token = takeToken();
  var fetcherOptions = { url: new URL(config.endpoint, location.href).href };
  if (token) {
    // Introspection runs before the headers editor is read: without the token here the schema
    // (docs, autocompletion) would fail to load against an API that requires authentication.
    fetcherOptions.headers = { Authorization: 'Bearer ' + token };
  }
  if (config.subscriptionEndpoint) {
    // Browsers cannot set headers on a websocket handshake, so the token
    // travels in the graphql-transport-ws connection_init payload instead.
    fetcherOptions.wsClient = graphqlWs.createClient({
      url: websocketURL(config.subscriptionEndpoint),
      connectionParams: token ? { Authorization: 'Bearer ' + token } : {},
    });
  }

  var props = {
    fetcher: GraphiQL.createFetcher(fetcherOptions),
    defaultQuery: DEFAULT_QUERY,
    // Bearer tokens must never end up in localStorage.
    shouldPersistHeaders: false,
    storage: credentialFreeStorage(),
  };
  if (token) {
    props.headers = JSON.stringify({ Authorization: 'Bearer ' + token }, null, 2);
    // Show the headers pane so it is obvious which credentials are in use.
    props.defaultEditorToolsVisibility = 'headers';
  }

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
