"""Parquet output: the Spark job's input schema plus truth files, same hits as in memory."""
import json

import pyarrow.parquet as pq
import pytest

from crayfis.sim.config import SimConfig
from crayfis.sim.network import simulate_network
from crayfis.sim.parquet import read_hits, write_parquet

CFG = SimConfig(hours=0.25, max_hits_per_block=5000).with_(fleet__n_phones=200,
                                                             showers__forced=2)


def test_written_hits_equal_the_in_memory_simulation(tmp_path):
    calls = []
    summary = write_parquet(CFG, tmp_path, seed=3, progress=lambda d, t: calls.append((d, t)))
    hits = read_hits(tmp_path)
    mem = simulate_network(CFG, 3)
    assert hits.equals(mem.hits)
    assert summary.n_hits == hits.num_rows and summary.n_files > 1
    assert calls[-1][0] == calls[-1][1]
    schema = pq.read_schema(sorted((tmp_path / "hits").glob("*.parquet"))[0])
    for name, kind in [("hit_id", "string"), ("device_id", "string"), ("t_ms", "int64"),
                       ("lat", "double"), ("lon", "double"), ("shower_id", "int64")]:
        assert str(schema.field(name).type) == kind


def test_truth_files(tmp_path):
    write_parquet(CFG, tmp_path, seed=3)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["seed"] == 3
    assert SimConfig.from_dict(truth["config"]) == CFG
    assert len(truth["showers"]) == pq.read_table(tmp_path / "showers.parquet").num_rows >= 2
    assert truth["n_shower_hits"] == sum(s["n_hit_devices"] for s in truth["showers"])
    live = pq.read_table(tmp_path / "live.parquet")
    assert truth["live"]["n_intervals"] == live.num_rows
    assert pq.read_table(tmp_path / "devices.parquet").num_rows == 200


def test_refuses_to_mix_runs(tmp_path):
    write_parquet(CFG.with_(hours=0.01), tmp_path, seed=1)
    with pytest.raises(FileExistsError):
        write_parquet(CFG.with_(hours=0.01), tmp_path, seed=1)
