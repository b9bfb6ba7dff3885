"""Partition assignment as Spark SQL expressions: each hit's copies and home, inside the JVM.

The rule is defined in Python: ``PartitionPlan.assign`` (partitioning.py), with its home slab
(``PartitionPlan.slab_of``), home tile (``TileGrid.home_tile``) and tiles within reach
(``TileGrid.tiles_within_reach``). A hit goes to every (slab, tile) whose core may hold an
anchor with the hit in its window, i.e. slabs of t - tau .. t and the tiles within reach (R,
padded) of it. Spark SQL restates that rule here so that hits stay out of Python until the
kernel stage; tests/spark/test_assign_sql.py pins the two together, copy for copy, on hits at
tile, band, slab and antimeridian edges and at the poles. Change the rule there first.

Exactness does not depend on the JVM's trigonometry matching numpy's: the home slab and tile use
only +, -, *, /, floor and mod (exact IEEE operations, evaluated in the same order as in
Python), and the reach is padded by ~1 cm (``tiles.PAD_DEG``), far more than a last-bit
difference in sin or asin. Slabs must be evenly spaced (``PartitionPlan.uniform_slabs``), so a
slab is one division.
"""
from __future__ import annotations

import numpy as np
from pyspark.sql import functions as F

from spark_jobs.partitioning import PartitionPlan
from spark_jobs.tiles import PAD_DEG


def _lit_array(values):
    return F.array(*[F.lit(int(v)).cast("long") for v in values])


def slab_expr(plan: PartitionPlan, t):
    """``PartitionPlan.slab_of`` of time column ``t``: the number of cut points <= t."""
    c0, width, m = plan.uniform_slabs()
    if m == 0:
        return F.lit(0).cast("long")
    d = t - F.lit(c0)
    q = (d - F.pmod(d, F.lit(width))).cast("long") / F.lit(width)  # exact: a multiple of width
    return F.greatest(F.lit(0), F.least(F.lit(m), (q.cast("long") + 1))).cast("long")


def _band(plan: PartitionPlan, lat):
    nb = plan.grid.n_bands
    b = F.floor((lat + F.lit(90.0)) / F.lit(plan.grid.band_deg))
    return F.greatest(F.lit(0), F.least(F.lit(nb - 1), b)).cast("long")


def home_tile_expr(plan: PartitionPlan, lat, lon):
    """``TileGrid.home_tile`` of position columns ``lat``, ``lon``."""
    per_band, offset = plan.grid.band_arrays()
    band = _band(plan, lat)
    n = F.element_at(_lit_array(per_band), (band + 1).cast("int"))
    x = F.pmod(lon + F.lit(180.0), F.lit(360.0))
    i = F.least(F.floor(x * n / F.lit(360.0)).cast("long"), n - 1)
    return F.element_at(_lit_array(offset), (band + 1).cast("int")) + i


def assigned_copies(df, plan: PartitionPlan):
    """``PartitionPlan.assign`` of ``df`` (t_ms, lat, lon, ...): one row per copy, with ``pkey``
    and ``home`` added.

    Three small explodes: slabs of t - tau .. t, latitude bands within reach, and longitude
    tiles within reach in each band (all of a band's tiles when the reach covers a pole).
    """
    grid = plan.grid
    per_band, offset = grid.band_arrays()
    reach = grid.reach_deg
    lat, lon, t = F.col("t_lat"), F.col("t_lon"), F.col("t_ms")
    cols = list(df.columns)
    base = df.select(*cols, F.col("lat").alias("t_lat"), F.col("lon").alias("t_lon"))
    lat_lo, lat_hi = lat - F.lit(reach), lat + F.lit(reach)
    over_pole = (lat_hi >= F.lit(90.0)) | (lat_lo <= F.lit(-90.0))
    cos_lat = F.cos(F.radians(lat))
    ratio = F.when(cos_lat > F.lit(0.0), F.lit(float(np.sin(np.radians(reach)))) / cos_lat)
    half = F.when(over_pole | ratio.isNull() | ~(ratio < F.lit(1.0)), F.lit(180.0)).otherwise(
        F.degrees(F.asin(F.least(F.greatest(ratio, F.lit(0.0)), F.lit(1.0)))) + F.lit(PAD_DEG))
    step1 = base.select(
        *cols, "t_lat", "t_lon",
        half.alias("t_half"),
        F.explode(F.sequence(slab_expr(plan, t - F.lit(plan.window_ms)), slab_expr(plan, t))).alias("t_slab"),
        F.sequence(_band(plan, lat_lo), _band(plan, lat_hi)).alias("t_bands"),
        slab_expr(plan, t).alias("t_home_slab"),
        home_tile_expr(plan, lat, lon).alias("t_home_tile"))
    step2 = step1.select("*", F.explode("t_bands").alias("t_band")).drop("t_bands")
    n = F.element_at(_lit_array(per_band), (F.col("t_band") + 1).cast("int"))
    width = F.lit(360.0) / n
    h = F.col("t_half")
    full = h >= F.lit(180.0)
    i0 = F.floor((lon - h + F.lit(180.0)) / width).cast("long")
    i1 = F.floor((lon + h + F.lit(180.0)) / width).cast("long")
    count = F.when(full, n).otherwise(F.least(i1 - i0 + 1, n))
    step3 = step2.select(
        "*", n.alias("t_n"), F.when(full, F.lit(0).cast("long")).otherwise(i0).alias("t_i0"),
        F.element_at(_lit_array(offset), (F.col("t_band") + 1).cast("int")).alias("t_off"),
        F.explode(F.sequence(F.lit(0).cast("long"), count - 1)).alias("t_j"))
    tile = F.col("t_off") + F.pmod(F.col("t_i0") + F.col("t_j"), F.col("t_n"))
    pkey = F.col("t_slab") * F.lit(grid.n_tiles) + tile
    home = (F.col("t_slab") == F.col("t_home_slab")) & (tile == F.col("t_home_tile"))
    return step3.select(pkey.alias("pkey"), home.alias("home"), *cols)
