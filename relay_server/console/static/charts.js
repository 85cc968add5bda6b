// Draws the charts page from the JSON the page carries (Chart.js, served locally).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const words = JSON.parse(document.getElementById("chart-labels").textContent);
  const colours = {sent: "#0b6bcb", delivered: "#1a7f37", failed: "#c62828"};
  const counts = (rows, label) => ({
    type: "bar",
    data: {
      labels: rows.map(label),
      datasets: ["sent", "delivered", "failed"].map((name) => ({
        label: words[name], data: rows.map((row) => row[name]), backgroundColor: colours[name],
      })),
    },
    options: {responsive: true, animation: false, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
  });
  new Chart(document.getElementById("chart-hours"), counts(data.hours, (row) => row.hour.slice(5, 13).replace("T", " ") + "h"));
  new Chart(document.getElementById("chart-days"), counts(data.days, (row) => row.date));
  new Chart(document.getElementById("chart-latency"), {
    type: "line",
    data: {
      labels: data.hours.map((row) => row.hour.slice(5, 13).replace("T", " ") + "h"),
      datasets: [{label: words.latency, data: data.hours.map((row) => row.latency_seconds), borderColor: "#0b6bcb", spanGaps: true}],
    },
    options: {responsive: true, animation: false, scales: {y: {beginAtZero: true}}},
  });
});
