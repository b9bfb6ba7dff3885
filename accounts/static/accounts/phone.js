/* An owner's phone page: hits per live hour against the network median, and live hours, per
 * bucket, from the data embedded in the page (json_script "phone-series"). plotly.min.js is
 * served by this server (dashboards/finders.py). */
(function () {
  "use strict";
  var node = document.getElementById("phone-series");
  if (!node || !window.Plotly) return;
  var s = JSON.parse(node.textContent);
  if (!s.t_ms.length) return;
  var x = s.t_ms.map(function (t) { return new Date(t); });
  var base = {margin: {l: 56, r: 16, t: 8, b: 36}, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
              font: {family: "system-ui, sans-serif", size: 12}, showlegend: true,
              legend: {orientation: "h", y: 1.15}, xaxis: {type: "date"}};
  var config = {displayModeBar: false, responsive: true};
  function layout(ytitle) {
    var out = {};
    Object.keys(base).forEach(function (k) { out[k] = base[k]; });
    out.yaxis = {title: {text: ytitle}, rangemode: "tozero"};
    return out;
  }
  function draw(id, traces, ytitle) {
    var el = document.getElementById(id);
    window.Plotly.newPlot(el, traces, layout(ytitle), config).then(function () {
      el.setAttribute("data-rendered", "1");
    });
  }
  var rate = [{type: "scatter", mode: "lines+markers", x: x, y: s.hits_per_live_h, name: "your phone",
               line: {color: "#1c7ed6"}, connectgaps: false}];
  if (s.network_hits_per_live_h) {
    rate.push({type: "scatter", mode: "lines", x: [x[0], x[x.length - 1]],
               y: [s.network_hits_per_live_h, s.network_hits_per_live_h], name: "network median (now)",
               line: {color: "#868e96", dash: "dash"}});
  }
  draw("rate-chart", rate, "hits per live hour");
  draw("exposure-chart", [{type: "bar", x: x, y: s.live_h, name: "live hours per " +
                           (s.bucket_ms >= 86400000 ? "day" : "hour"), marker: {color: "#2b8a3e"}}], "live hours");
})();
