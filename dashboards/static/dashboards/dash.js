/* CRAYFIS live dashboards: draw the page from its embedded first data, then poll its JSON
 * endpoints every few seconds while the page is visible (stop, or slow down, while hidden).
 * Charts: plotly.min.js served by this server; map outlines: vendored topojson, also served
 * here (topojsonURL), so nothing is ever fetched from elsewhere. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("dash-config").textContent);
  var initial = JSON.parse(document.getElementById("dash-initial").textContent);
  var PLOT = {displayModeBar: false, responsive: true, topojsonURL: cfg.topojson_url};
  var FONT = {family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#223"};
  var $ = function (id) { return document.getElementById(id); };

  /* ---- formatting ---- */
  function int(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US"); }
  function num(v, digits) {
    if (v === null || v === undefined) return "–";
    return Number(v).toLocaleString("en-US", {maximumFractionDigits: digits === undefined ? 1 : digits});
  }
  function sci(v) {
    if (v === null || v === undefined) return "–";
    v = Number(v);
    return v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4) ? v.toExponential(1) : v.toPrecision(2);
  }
  function utc(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "–"; }
  function ago(ms) {
    if (ms === null || ms === undefined) return "?";
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }
  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function link(href, text) { return el("a", text, {href: href}); }
  function setText(id, text) { var n = $(id); if (n) n.textContent = text; }
  function showEmpty(id, empty) { var n = $(id); if (n) n.hidden = !empty; }
  function deviceUrl(p) { return cfg.urls.device.replace("PSEUDONYM", encodeURIComponent(p)); }
  function candidateUrl(c) { return cfg.urls.candidate.replace("CANDIDATE", encodeURIComponent(c)); }

  function fillTable(id, rows, cells) {
    var table = $(id);
    if (!table) return;
    var body = table.tBodies[0];
    var fresh = document.createElement("tbody");
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      cells(row).forEach(function (c) {
        var td = document.createElement("td");
        if (c instanceof Node) td.appendChild(c); else td.textContent = c;
        tr.appendChild(td);
      });
      fresh.appendChild(tr);
    });
    table.replaceChild(fresh, body);
  }

  /* ---- charts ---- */
  function plot(id, traces, layout) {
    var node = $(id);
    if (!node || !window.Plotly) return;
    var base = {margin: {l: 48, r: 16, t: 8, b: 36}, font: FONT, paper_bgcolor: "rgba(0,0,0,0)",
                plot_bgcolor: "rgba(0,0,0,0)", showlegend: false};
    Object.keys(layout || {}).forEach(function (k) { base[k] = layout[k]; });
    window.Plotly.react(node, traces, base, PLOT).then(function () {
      node.setAttribute("data-rendered", "1");
    });
  }

  /* The map opens on where the phones are: their cells' extent, padded by a quarter of it and
   * at least MIN_PAD_DEG (about 55 km, so one cell shows its surroundings), longitudes widened by
   * 1/cos(latitude) so the view keeps its shape; the world when there is nothing to show. Both
   * outline files are served by this project (vendor/topojson/). */
  var MIN_PAD_DEG = 0.5;
  function geoLayout(points) {
    var lat = {range: [-58, 78]}, lon = {range: [-180, 180]};
    if (points.length) {
      var lats = points.map(function (p) { return p.lat; }), lons = points.map(function (p) { return p.lon; });
      var la0 = Math.min.apply(null, lats), la1 = Math.max.apply(null, lats);
      var lo0 = Math.min.apply(null, lons), lo1 = Math.max.apply(null, lons);
      var pad = Math.max(MIN_PAD_DEG, 0.25 * Math.max(la1 - la0, lo1 - lo0));
      var widen = 1 / Math.max(Math.cos((la0 + la1) / 2 * Math.PI / 180), 0.2);
      lat.range = [Math.max(-89, la0 - pad), Math.min(89, la1 + pad)];
      lon.range = [Math.max(-180, lo0 - 1.6 * pad * widen), Math.min(180, lo1 + 1.6 * pad * widen)];
    }
    var fine = lat.range[1] - lat.range[0] < 20;   /* the phones' region: the 1:50m outlines */
    return {margin: {l: 0, r: 0, t: 0, b: 0},
            geo: {projection: {type: "equirectangular"}, resolution: fine ? 50 : 110, lataxis: lat, lonaxis: lon,
                  showland: true, landcolor: "#eef1e6", showocean: true, oceancolor: "#dde9f3",
                  showcountries: true, countrycolor: "#a9b0a0", coastlinecolor: "#7d8a7a",
                  showlakes: true, lakecolor: "#dde9f3", showframe: false, bgcolor: "rgba(0,0,0,0)"}};
  }

  function drawMap(id, points, label) {
    var size = points.map(function (p) { return 8 + 5 * Math.sqrt(p.phones); });
    plot(id, [{type: "scattergeo", mode: "markers", lat: points.map(function (p) { return p.lat; }),
               lon: points.map(function (p) { return p.lon; }),
               text: points.map(function (p) { return int(p.phones) + " " + label + ", " + int(p.hits) + " hits"; }),
               hoverinfo: "text",
               marker: {size: size, color: "#d9480f", opacity: 0.75, line: {color: "#fff", width: 1}}}],
         geoLayout(points));
  }

  function dates(tms) { return tms.map(function (t) { return new Date(t); }); }
  function drawSeries(id, tms, ys, ytitle, y2, y2title) {
    var x = dates(tms);
    var mode = tms.length < 24 ? "lines+markers" : "lines";   /* a young network: few points, each shown */
    var traces = [{type: "scatter", mode: mode, x: x, y: ys, name: ytitle, line: {color: "#1c7ed6", width: 1.5},
                   fill: "tozeroy", fillcolor: "rgba(28,126,214,0.12)"}];
    var layout = {xaxis: {type: "date"}, yaxis: {title: {text: ytitle}, rangemode: "tozero"}};
    if (y2) {
      traces.push({type: "scatter", mode: "lines", x: dates(y2.t_ms), y: y2.values, name: y2title, yaxis: "y2",
                   line: {shape: "hv", color: "#e8590c", width: 1.2}});
      layout.yaxis2 = {title: {text: y2title}, overlaying: "y", side: "right", rangemode: "tozero", showgrid: false};
      layout.margin = {l: 48, r: 48, t: 8, b: 36};
    }
    plot(id, traces, layout);
  }

  /* A candidate's multiplicity against the background: per multiplicity m (at least m phones),
   * the public candidates observed over the span the search scored it on, beside the accidental
   * windows the background model expected there; this candidate's m marked. */
  function drawBackground(c) {
    var bg = c.background;
    var labels = bg.multiplicity.map(function (m) { return "≥ " + m; });
    var mine = bg.multiplicity.map(function (m) { return m === c.multiplicity ? "#d9480f" : "#495057"; });
    var floor = 1e-6;
    plot("cand-mult", [
      {type: "bar", name: "observed candidates", x: labels, y: bg.observed, marker: {color: mine}},
      {type: "bar", name: "expected by accident", x: labels,
       y: bg.expected.map(function (v) { return Math.max(v, floor); }), marker: {color: "#74c0fc"},
       text: bg.expected.map(function (v) { return sci(v); }), hoverinfo: "x+text+name"}
    ], {barmode: "group", showlegend: true, legend: {orientation: "h", y: 1.15},
        xaxis: {title: {text: "phones in a window (" + utc(bg.from_ms) + " to " + utc(bg.to_ms) + " UTC)"}},
        yaxis: {title: {text: "windows"}, type: "log", exponentformat: "power"}});
    setText("cand-mult-note", "Bars per multiplicity m: public candidates with at least m phones that began " +
            "in the span the background was estimated on, and the windows with at least m phones that " +
            "background alone would give there. This candidate's multiplicity is marked.");
  }
  function drawDistribution(c) {
    var mult = c.multiplicity_distribution || [];
    plot("cand-mult", [{type: "bar", x: mult.map(function (b) { return b.n_devices; }),
                        y: mult.map(function (b) { return b.candidates; }),
                        marker: {color: mult.map(function (b) { return b.n_devices === c.n_devices ? "#d9480f" : "#adb5bd"; })}}],
         {xaxis: {title: {text: "phones in a candidate"}, dtick: 1},
          yaxis: {title: {text: "candidates"},
                  type: Math.max.apply(null, mult.map(function (b) { return b.candidates; }).concat([1])) > 50 ? "log" : "linear"}});
    setText("cand-mult-note", "No background was recorded for this candidate: its phones among all public candidates.");
  }

  /* ---- shared parts ---- */
  function renderStatus(st) {
    if (!st) return;
    var es = st.elasticsearch || {};
    var pill = $("st-es");
    if (pill) { pill.textContent = "index: " + (es.status || "unreachable"); pill.className = "pill " + (es.ok ? "ok" : "bad"); }
    var up = st.uploads;
    setText("st-uploads", up && up.pending !== null && up.pending !== undefined
      ? "pending uploads: " + int(up.pending) : "pending uploads: n/a");
    var s = st.search;
    setText("st-search", s ? "last search pass: " + ago(s.age_ms) + (s.lag_ms !== null && s.lag_ms !== undefined
      ? ", lag " + ago(s.lag_ms).replace(" ago", "") : "") : "coincidence search: not run yet");
    setText("st-updated", "updated " + new Date().toISOString().slice(11, 19) + " UTC");
    setBanner(!es.ok);
  }
  function setBanner(down) { var b = $("es-banner"); if (b) b.hidden = !down; }

  function candidateCells(c) {
    return [link(candidateUrl(c.candidate_id), utc(c.t_start_ms)),
            c.lat === null ? "–" : c.lat + ", " + c.lon, int(c.n_devices), int(c.n_hits),
            sci(c.p_value), sci(c.false_alarm_per_year), c.status];
  }
  function renderCandidateTable(prefix, data) {
    var rows = (data && data.candidates) || [];
    fillTable(prefix + "-table", rows, candidateCells);
    showEmpty(prefix + "-empty", rows.length === 0);
  }

  /* ---- pages ---- */
  var state = {mapWindow: "10m", span: "24h"};
  var pages = {
    home: {
      parts: function () {
        return {overview: cfg.endpoints.overview, rates: cfg.endpoints.rates + "?span=" + state.span,
                map: cfg.endpoints.map + "?window=" + state.mapWindow, candidates: cfg.endpoints.candidates};
      },
      overview: function (ov) {
        setText("ov-active10", int(ov.active_phones_10m)); setText("ov-active24", int(ov.active_phones_24h));
        setText("ov-hits24", int(ov.hits_24h)); setText("ov-exposure", num(ov.exposure_hours_total, 1));
        setText("ov-candidates", int(ov.candidates_total));
        var by = ov.hits_by_class_24h || {};
        ["spot", "track", "worm", "noise"].forEach(function (k) { setText("cls-" + k, int(by[k])); });
      },
      rates: function (r) {
        drawSeries("rates", r.t_ms, r.hits_per_min, "hits / min", {t_ms: r.t_ms, values: r.phones}, "phones live");
        showEmpty("rates-empty", !r.total_hits);
      },
      map: function (m) { drawMap("map", m.tiles, "phones"); showEmpty("map-empty", m.tiles.length === 0); },
      candidates: function (c) { renderCandidateTable("latest", c); }
    },
    candidates: {
      parts: function () { return {candidates: cfg.endpoints.candidates}; },
      candidates: function (c) { renderCandidateTable("all", c); setText("cand-total", int(c.total) + " in total"); }
    },
    candidate: {
      parts: function () { return {candidate: cfg.endpoints.candidate}; },
      candidate: function (c) {
        if (!c) return;
        setText("c-devices", int(c.n_devices)); setText("c-trusted", int(c.n_trusted_devices));
        setText("c-hits", int(c.n_hits));
        setText("c-bg", sci(c.expected_background)); setText("c-p", sci(c.p_value));
        setText("c-far", sci(c.false_alarm_per_year)); setText("c-status", c.status || "–");
        drawMap("cand-map", c.lat === null ? [] : [{lat: c.lat, lon: c.lon, phones: c.n_devices, hits: c.n_hits}],
                "phones");
        if (c.background) drawBackground(c); else drawDistribution(c);
      }
    },
    device: {
      parts: function () { return {device: cfg.endpoints.device}; },
      device: function (d) {
        if (!d) return;
        setText("d-hits", int(d.hits_total)); setText("d-exposure", num(d.exposure_hours, 2));
        setText("d-rate", num(d.hits_per_min_7d, 2));
        drawSeries("dev-rate", d.hit_rate.t_ms, d.hit_rate.hits_per_min, "hits / min");
        var kv = $("dev-calib");
        if (kv) {
          kv.textContent = "";
          Object.keys(d.calibration || {}).forEach(function (k) {
            var v = d.calibration[k];
            kv.appendChild(el("dt", k.replace(/_ms$/, "").replace(/_/g, " ")));
            kv.appendChild(el("dd", /_ms$/.test(k) && v ? utc(v) + " UTC" : (v === null ? "–" : String(v))));
          });
        }
        showEmpty("dev-calib-empty", !d.calibration);
      }
    },
    leaderboard: {
      parts: function () { return {leaderboard: cfg.endpoints.leaderboard}; },
      leaderboard: function (lb) {
        fillTable("lb-table", lb.ranked, function (r) {
          return [int(r.rank), link(deviceUrl(r.device), r.device), num(r.score, 2), int(r.candidates),
                  num(r.exposure_hours, 1), num(r.hits_per_min, 1)];
        });
        showEmpty("lb-empty", lb.ranked.length === 0);
        fillTable("lbu-table", lb.unranked, function (r) {
          return [link(deviceUrl(r.device), r.device), r.reason, num(r.exposure_hours, 1), num(r.hits_per_min, 1)];
        });
      }
    }
  };
  var page = pages[cfg.page];

  /* ---- polling ---- */
  var timer = null;
  var notBefore = 0;  /* ms since epoch: a 429's Retry-After holds the next poll back until then */
  function render(name, data) {
    if (name === "status") renderStatus(data);
    else if (page && page[name] && data) page[name](data);
  }
  function fetchPart(name, url) {
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (resp) {
        if (resp.status === 503 || resp.status === 502) { setBanner(true); return null; }
        if (resp.status === 429) {
          var after = parseInt(resp.headers.get("Retry-After"), 10);
          notBefore = Math.max(notBefore, Date.now() + 1000 * (after > 0 ? after : 60));
          return null;
        }
        return resp.ok ? resp.json() : null;
      })
      .then(function (data) { if (data) render(name, data); })
      .catch(function () { setBanner(true); });
  }
  function tick() {
    clearTimeout(timer);
    var parts = page ? page.parts() : {};
    parts.status = cfg.endpoints.status;
    var jobs = Object.keys(parts).map(function (name) { return fetchPart(name, parts[name]); });
    Promise.all(jobs).then(schedule, schedule);
  }
  function schedule() {
    clearTimeout(timer);
    var wait = document.hidden ? cfg.hidden_poll_ms : cfg.poll_ms;
    if (wait > 0) timer = setTimeout(tick, Math.max(wait, notBefore - Date.now()));
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) schedule(); else tick();
  });

  document.querySelectorAll(".toggle").forEach(function (group) {
    group.addEventListener("click", function (ev) {
      var button = ev.target.closest("button");
      if (!button) return;
      group.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      if (group.dataset.target === "map") state.mapWindow = button.dataset.value;
      if (group.dataset.target === "rates") state.span = button.dataset.value;
      tick();
    });
  });

  /* first paint from the embedded data, then live */
  Object.keys(initial).forEach(function (name) { render(name, initial[name]); });
  schedule();
})();
