// Draws report.html's charts with Chart.js from the JSON in #report-data.
// What to show is decided when the report is written; this only draws.
// Each canvas is left with data-series (its legend, '|'-separated) and
// data-points (what it drew), so that a test reading the DOM can tell
// a drawn chart from an empty one; a chart that throws says so in the page.
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.size = 11;
  Chart.defaults.color = '#444';

  const clock = (t) => new Date(t * 1000).toISOString().substring(11, 19);
  const ms = (v) => (v >= 1000 ? +(v / 1000).toPrecision(3) + ' s' : +v.toPrecision(3) + ' ms');
  const timeAxis = () => ({
    type: 'linear',
    min: data.t0,
    max: data.t1,
    title: { display: true, text: 'time (UTC)' },
    ticks: { callback: (v) => clock(v), maxTicksLimit: 7, maxRotation: 0 },
  });
  // Log latency axis labelled at the powers of ten only.
  const msAxis = (lo, hi) => ({
    type: 'logarithmic',
    min: lo,
    max: hi,
    title: { display: true, text: 'latency' },
    ticks: {
      autoSkip: false,
      callback: (v) => {
        const l = Math.log10(v);
        return Math.abs(l - Math.round(l)) < 1e-6 ? ms(v) : null;
      },
    },
  });
  const decade = (v) => Math.pow(10, Math.ceil(Math.log10(Math.max(v, 1))));

  // Light yellow for one call, dark purple for the busiest bucket (viridis).
  const stops = [[253, 231, 37], [94, 201, 98], [33, 145, 140], [59, 82, 139], [68, 1, 84]];
  const heat = (f) => {
    const at = Math.min(Math.max(f, 0), 1) * (stops.length - 1);
    const i = Math.min(Math.floor(at), stops.length - 2);
    const w = at - i;
    const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * w));
    return 'rgb(' + c.join(',') + ')';
  };
  const heatPlugin = {
    id: 'heat',
    beforeDatasetsDraw(chart, args, opts) {
      if (!opts.cells || !opts.cells.length) return;
      const { ctx, chartArea: a, scales } = chart;
      const top = Math.log(opts.peak + 1);
      ctx.save();
      ctx.beginPath();
      ctx.rect(a.left, a.top, a.right - a.left, a.bottom - a.top);
      ctx.clip();
      for (const [t, width, lo, hi, n] of opts.cells) {
        const x0 = scales.x.getPixelForValue(t - width), x1 = scales.x.getPixelForValue(t);
        const y0 = scales.y.getPixelForValue(hi), y1 = scales.y.getPixelForValue(lo);
        ctx.fillStyle = heat(Math.log(n + 1) / top);
        ctx.fillRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
      }
      ctx.restore();
    },
  };

  function fail(canvas, what, err) {
    const p = document.createElement('p');
    p.className = 'chart-error';
    p.textContent = 'The ' + what + ' chart could not be drawn: ' + err;
    canvas.parentNode.after(p);
  }

  function draw(id, what, config, points) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    try {
      const chart = new Chart(canvas, config);
      canvas.dataset.series = chart.data.datasets.map((d) => d.label).join('|');
      canvas.dataset.points = points;
    } catch (err) {
      fail(canvas, what, err);
    }
  }

  function stackedConfig(part, unit) {
    return {
      type: 'line',
      data: {
        datasets: part.series.map((s, i) => ({
          label: s.name,
          data: part.x.map((x, k) => ({ x, y: s.y[k] })),
          borderColor: s.color,
          backgroundColor: s.color + 'cc',
          borderWidth: 1,
          pointRadius: 0,
          fill: i === 0 ? 'origin' : '-1',
        })),
      },
      options: {
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: { x: timeAxis(), y: { stacked: true, beginAtZero: true, title: { display: true, text: unit } } },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: (c) => c.dataset.label + ': ' + c.parsed.y.toFixed(1) + ' ' + unit } },
        },
      },
    };
  }

  data.victims.forEach((v, i) => {
    const sfx = i === 0 ? '' : '-' + i;
    const slowMax = Math.max(0, ...v.slow.series.flatMap((s) => s.points.map((p) => p[1])));
    const hi = decade(Math.max(v.latency.top_ms, slowMax * 1.5, ...v.latency.p99.map((p) => p[1])));
    const lo = 0.01;

    draw('timeline' + sfx, 'latency', {
      type: 'line',
      data: {
        datasets: [
          { label: 'p50 per second', data: v.latency.p50.map(([x, y]) => ({ x, y })), borderDash: [5, 3] },
          { label: 'p99 per second', data: v.latency.p99.map(([x, y]) => ({ x, y })) },
        ].map((d) => Object.assign(d, { borderColor: '#d62728', borderWidth: 2, pointRadius: 0, pointStyle: 'line' })),
      },
      options: {
        scales: { x: timeAxis(), y: msAxis(lo, hi) },
        plugins: {
          heat: { cells: v.latency.cells, peak: v.latency.peak },
          legend: { position: 'bottom', labels: { usePointStyle: true, boxWidth: 30 } },
          tooltip: { callbacks: { label: (c) => c.dataset.label + ': ≤ ' + ms(c.parsed.y) } },
        },
      },
      plugins: [heatPlugin],
    }, v.latency.cells.length);
    const ramp = document.getElementById('ramp' + sfx);
    if (ramp && v.latency.peak) {
      ramp.innerHTML = '';
      const bar = document.createElement('span');
      bar.className = 'ramp';
      bar.style.background = 'linear-gradient(to right,' + [0, 0.25, 0.5, 0.75, 1].map(heat).join(',') + ')';
      ramp.append('shade: calls per second in a latency bucket, 1 ', bar, ' ' + v.latency.peak);
    }

    const probeY = lo * 1.6;
    const slowSets = v.slow.series.map((s) => ({
      label: 'slow call: ' + s.name,
      data: s.points.map(([x, y, text]) => ({ x, y, text })),
      backgroundColor: s.color,
      borderColor: s.color,
      pointRadius: 3,
    }));
    if (v.slow.probes.length) {
      slowSets.push({
        label: 'probe failure (any pod)',
        data: v.slow.probes.map(([x, text]) => ({ x, y: probeY, text })),
        backgroundColor: '#000',
        borderColor: '#000',
        pointStyle: 'triangle',
        pointRadius: 5,
      });
    }
    draw('slowcalls' + sfx, 'slow calls', {
      type: 'scatter',
      data: { datasets: slowSets },
      options: {
        scales: { x: timeAxis(), y: msAxis(lo, hi) },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: (c) => clock(c.raw.x) + ' ' + c.raw.text } },
        },
      },
    }, slowSets.reduce((n, d) => n + d.data.length, 0));

    draw('throughput' + sfx, 'throughput', stackedConfig(v.throughput, 'MB/s'), v.throughput.x.length);
    draw('kinds' + sfx, 'wait by kind', stackedConfig(v.kinds, 'ms waited per second'), v.kinds.x.length);
  });
})();
