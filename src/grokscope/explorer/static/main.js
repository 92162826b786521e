// Start: route the page now (data requests go out while plotly.js is still loading), and on every hash change.
"use strict";
window.addEventListener("hashchange", () => GS.route());
GS.route();
