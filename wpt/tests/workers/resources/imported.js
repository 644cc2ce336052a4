var importedValue = 'imported by importScripts';
