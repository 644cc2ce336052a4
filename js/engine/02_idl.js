// WebIDL details that the class syntax does not give: accessors named
// "get x"/"set x" that check their receiver, and event handler attributes
// of [Global] interfaces, which live on the global object itself.
import { core } from "ext:core/mod.js";

const { defineEventHandler } = core.loadExtScript("ext:deno_web/02_event.js");

/** An accessor descriptor whose functions are named "get name"/"set name". */
function namedAccessor(name, get, set) {
  const holder = {
    get [name]() {
      return get.call(this);
    },
    set [name](v) {
      set.call(this, v);
    },
  };
  const d = Object.getOwnPropertyDescriptor(holder, name);
  return { get: d.get, set: set ? d.set : undefined, enumerable: true, configurable: true };
}

/** Makes an accessor throw a TypeError on objects that are not instances. */
export function brandCheckAccessor(proto, name, is) {
  const d = Object.getOwnPropertyDescriptor(proto, name);
  const check = (self) => {
    if (!is(self)) throw new TypeError("Illegal invocation");
  };
  Object.defineProperty(
    proto,
    name,
    namedAccessor(
      name,
      function () {
        check(this);
        return d.get.call(this);
      },
      d.set &&
        function (v) {
          check(this);
          d.set.call(this, v);
        },
    ),
  );
}

/** The receiver of a global's accessor: undefined means the global. */
function globalReceiver(self) {
  const g = self ?? globalThis;
  if (g !== globalThis) throw new TypeError("Illegal invocation");
  return g;
}

/** `on<type>` on the global object itself. */
export function defineGlobalEventHandler(type) {
  const name = "on" + type;
  defineEventHandler(globalThis, type);
  const d = Object.getOwnPropertyDescriptor(globalThis, name);
  Object.defineProperty(
    globalThis,
    name,
    namedAccessor(
      name,
      function () {
        return d.get.call(globalReceiver(this));
      },
      function (v) {
        d.set.call(globalReceiver(this), v);
      },
    ),
  );
}
