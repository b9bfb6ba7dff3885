"""Simulated CRAYFIS phone network with cosmic-ray air showers (numpy, seeded, no Django/Spark).

Modules, one job each:
  config      SimConfig / FleetConfig / ShowerConfig: every knob with its default
  fleet       the phones (ids, positions, rates, clock offsets, frame phases, GPS accuracy)
  live        live intervals (duty cycle: mostly local night) = exposure time
  background  noise triggers as a per-frame Poisson process while live
  spectrum    Auger 2020 broken power law, exact inverse-CDF sampling
  showers     shower sampling, NKG lateral distribution, which live phones fire and when
  network     plan_network / iter_hit_blocks / simulate_network -> SimResult (hits + truth)
  parquet     write_parquet: hits for the Spark job + truth files
  phone       what a v1.0.4 phone writes (RunConfig, calibration, DATA blocks, events)
  datachunks  RunRecorder / iter_uploads: /submit bodies cut at 50 kB like the app
  poster      Poster / post_uploads: concurrent, app-like POSTing with retries and 403s
  realtime    RealtimeNetwork / run_realtime: a live network on the wall clock for demos
"""
