// Reads what the page wrote in the database it names.
self.onmessage = (e) => {
  const open = indexedDB.open(e.data);
  open.onsuccess = () => {
    const get = open.result.transaction('s').objectStore('s').get('k');
    get.onsuccess = () => {
      postMessage(get.result);
      open.result.close();
    };
  };
};
