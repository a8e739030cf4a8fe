// Draws the profiler HTML report from the JSON in #profiler-data. No network access.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("profiler-data").textContent);
  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#17becf", "#7f7f7f", "#bcbd22", "#393b79", "#637939"];
  var highlight = {};
  var plots = {};
  var container = document.getElementById("charts");
  var width = function () { return Math.max(600, Math.min(container.clientWidth - 24, 1380)); };
  var sync = uPlot.sync("profiler");

  function shade(u, spans, color) {
    if (!spans || !spans.length) return;
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    ctx.fillStyle = color;
    spans.forEach(function (s) {
      var x0 = u.valToPos(s[0], "x", true), x1 = u.valToPos(s[1], "x", true);
      ctx.fillRect(x0, top, Math.max(x1 - x0, 2), height);
    });
    ctx.restore();
  }

  function addChart(c) {
    var section = document.createElement("section");
    section.className = "chart";
    section.id = "chart-" + c.id;
    var title = document.createElement("h3");
    title.textContent = c.title + (c.unit ? " (" + c.unit + ")" : "");
    section.appendChild(title);
    container.appendChild(section);
    var series = [{}], columns = [data.x], bands = [];
    c.series.forEach(function (s, i) {
      var color = palette[i % palette.length];
      columns.push(s.mean);
      series.push({ label: s.label, stroke: color, width: 1.2, spanGaps: false,
                    value: function (u, v) { return v == null ? "–" : v.toFixed(1); } });
    });
    c.series.forEach(function (s, i) {  // min/max envelopes keep spikes visible after downsampling
      var color = palette[i % palette.length];
      columns.push(s.max); series.push({ label: s.label + " max", stroke: "transparent", show: true });
      columns.push(s.min); series.push({ label: s.label + " min", stroke: "transparent", show: true });
      var hi = series.length - 2, lo = series.length - 1;
      bands.push({ series: [hi, lo], fill: color + "22" });
    });
    var opts = {
      width: width(), height: 170, cursor: { sync: { key: sync.key } },
      scales: { x: { time: true } }, series: series, bands: bands,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      legend: { show: c.series.length <= 16, live: true },
      axes: [{}, { size: 60 }],
      hooks: { draw: [function (u) { shade(u, c.shade, "rgba(220,40,40,0.12)"); },
                      function (u) { shade(u, highlight[c.id], "rgba(255,190,0,0.28)"); }] }
    };
    plots[c.id] = new uPlot(opts, columns, section);
    // Hide the envelope series from the legend to keep it readable.
    section.querySelectorAll(".u-legend tr").forEach(function (row, i) {
      if (i > c.series.length) row.style.display = "none";
    });
  }

  function heatmap(h) {
    var box = document.getElementById("heatmap");
    if (!h) { box.remove(); return; }
    box.querySelector("h3").textContent = h.title;
    var canvas = document.createElement("canvas");
    var cols = h.x.length, rows = h.rows.length;
    canvas.width = cols; canvas.height = rows;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(cols, rows);
    h.values.forEach(function (row, r) {
      row.forEach(function (v, c) {
        var k = 4 * (r * cols + c);
        if (v == null) { img.data[k + 3] = 0; return; }
        var t = Math.max(0, Math.min(1, v / 100));  // red = idle, green = busy
        img.data[k] = Math.round(230 * (1 - t) + 30 * t);
        img.data[k + 1] = Math.round(60 * (1 - t) + 170 * t);
        img.data[k + 2] = Math.round(50 * (1 - t) + 80 * t);
        img.data[k + 3] = 255;
      });
    });
    ctx.putImageData(img, 0, 0);
    canvas.style.height = Math.max(rows * 14, 40) + "px";
    var grid = document.createElement("div");
    grid.className = "hm-rows";
    var labels = document.createElement("div");
    labels.innerHTML = h.rows.map(function (r) {
      return "<div style='height:14px;line-height:14px'>" + r.replace(/[<&]/g, "") + "</div>";
    }).join("");
    grid.appendChild(labels); grid.appendChild(canvas);
    box.appendChild(grid);
  }

  function bars(b) {
    var box = document.getElementById("breakdown");
    if (!b) { box.remove(); return; }
    var parts = [["compute_us", "#2ca02c", "compute"], ["non_compute_us", "#1f77b4", "non-compute"],
                 ["idle_us", "#d62728", "idle"]];
    var html = "<div>" + parts.map(function (p) {
      return "<span class='legend-key' style='background:" + p[1] + "'></span>" + p[2];
    }).join("") + "</div>";
    Object.keys(b).forEach(function (rank) {
      var r = b[rank], total = r.total_us || 1;
      html += "<div style='font-size:12px'>" + String(rank).replace(/[<&]/g, "") +
              (r.step_time_us ? " · step " + (r.step_time_us / 1000).toFixed(1) + " ms" : "") + "</div>";
      html += "<div class='bar'>" + parts.map(function (p) {
        return "<span title='" + p[2] + "' style='width:" + (100 * (r[p[0]] || 0) / total) +
               "%;background:" + p[1] + "'></span>";
      }).join("") + "</div>";
    });
    box.insertAdjacentHTML("beforeend", "<div class='bars'>" + html + "</div>");
  }

  data.charts.forEach(addChart);
  heatmap(data.heatmap);
  bars(data.breakdown);
  data.findings.forEach(function (f) {
    var link = document.getElementById("show-" + f.rank);
    if (!link) return;
    link.addEventListener("click", function () {
      highlight = {}; highlight[f.chart] = f.spans;
      Object.keys(plots).forEach(function (id) { plots[id].redraw(false); });
      var target = document.getElementById("chart-" + f.chart);
      if (target) {
        target.scrollIntoView({ behavior: "smooth", block: "center" });
        target.classList.add("flash");
        setTimeout(function () { target.classList.remove("flash"); }, 1500);
      }
    });
  });
  window.addEventListener("resize", function () {
    Object.keys(plots).forEach(function (id) { plots[id].setSize({ width: width(), height: 170 }); });
  });
  document.body.dataset.rendered = "ok";
  // milliseconds from navigation start until every chart is drawn (bench/html_report.py reads it)
  document.body.dataset.renderMs = String(Math.round(performance.now()));
})();
