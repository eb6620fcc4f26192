// The static book's demos (see dltips/widgets.py): each .dltips-demo holds the figures of every
// combination of its controls' grid values ({"images": [data URL, ...], "states": {"i-j-...":
// [image index, alt text]}}, keyed by the controls' indices in page order). Moving a control shows the figure of the new combination; nothing is computed here.
(function () {
  "use strict";

  function setUp(demo) {
    var data = demo.querySelector("script.dltips-demo-states");
    var img = demo.querySelector("img.dltips-demo-figure");
    if (!data || !img) return;
    var parsed = JSON.parse(data.textContent);
    var images = parsed.images, states = parsed.states;
    var controls = Array.prototype.slice.call(demo.querySelectorAll("[data-control]"));

    function show() {
      var key = controls.map(function (c) { return c.value; }).join("-");
      var state = states[key];
      if (!state) return;
      var src = images[state[0]];
      if (img.getAttribute("src") !== src) img.setAttribute("src", src);
      img.setAttribute("alt", state[1]);
      controls.forEach(function (c) {
        if (c.type !== "range") return;
        var label = JSON.parse(c.getAttribute("data-labels"))[Number(c.value)];
        c.setAttribute("aria-valuetext", label);
        var out = c.parentNode.querySelector("output");
        if (out) out.textContent = label;
      });
      demo.setAttribute("data-state", key);
    }

    controls.forEach(function (c) {
      c.addEventListener("input", show);
      c.addEventListener("change", show);
    });
    images.forEach(function (src) {  // decode every figure now, not on the first move
      var pre = new Image();
      pre.src = src;
    });
    show();  // a browser may have restored the controls' values (back button)
  }

  function setUpAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".dltips-demo"), setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
