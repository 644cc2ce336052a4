// Imports import-later.py once per `import` search parameter
// (`KEY:THEN`), in order.
const params = new URLSearchParams(location.search);
for (const entry of params.getAll('import')) {
  const [key, then] = entry.split(':');
  importScripts(`import-later.py?key=${key}&then=${then}`);
}
