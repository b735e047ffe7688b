// Shows the live readiness state so the page doubles as a quick status check.
(function () {
  "use strict";
  var el = document.getElementById("readiness");
  if (!el) {
    return;
  }
  function show(state) {
    el.textContent = state;
    el.setAttribute("data-state", state);
  }
  function poll() {
    fetch("/readyz", { cache: "no-store" })
      .then(function (res) { return res.json(); })
      .then(function (body) { show(body.status || "unknown"); })
      .catch(function () { show("unreachable"); });
  }
  poll();
  setInterval(poll, 5000);
})();
