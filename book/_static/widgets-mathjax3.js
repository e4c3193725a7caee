/* The Jupyter widgets HTML manager (ipywidgets 8) typesets widget labels with
 * MathJax 2's API, MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]). The
 * site runs MathJax 3, which has no Hub: without this shim every widget label
 * throws "Cannot read properties of undefined (reading 'Queue')". Hub.Queue
 * is mapped onto MathJax 3's typesetPromise. Loaded on pages with widgets,
 * before the widget manager (nb_ipywidgets_js in _config.yml). */
(function () {
  "use strict";
  function typeset(element) {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
      mj.startup.promise
        .then(function () { return mj.typesetPromise([element]); })
        .catch(function (err) { console.warn("MathJax could not typeset a widget:", err); });
    }
  }
  var Hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset" && job[2]) typeset(job[2]);
      }
    },
  };
  function install() {
    // After the deferred MathJax script has replaced its configuration
    // object by MathJax itself, and before the widgets are drawn on "load".
    if (window.MathJax && !window.MathJax.Hub) window.MathJax.Hub = Hub;
  }
  document.addEventListener("DOMContentLoaded", install);
})();
