// Loaded into Azurite with `node --require`: exit when the emulator process that started it is gone
// (a SIGKILLed emulator cannot stop its child), so no orphaned Azurite keeps a port and the data dir.
"use strict";
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    process.exit(0);
  }
}, 1000).unref();
