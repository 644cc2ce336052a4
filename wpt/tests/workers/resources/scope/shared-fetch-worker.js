// Fetches what a connection asks for and answers with the text.
onconnect = (e) => {
  const port = e.ports[0];
  port.onmessage = (m) => fetch(m.data).then((r) => r.text()).then((t) => port.postMessage(t));
};
