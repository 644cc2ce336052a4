importScripts('imported.js');
postMessage(typeof importedValue === 'undefined' ? 'not imported' : importedValue);
