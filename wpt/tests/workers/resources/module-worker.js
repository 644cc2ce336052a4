import { word } from './module-dep.js';
postMessage('module: ' + word);
