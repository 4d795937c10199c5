"""France as a whole: départements cut into catchments, national allocations of posts,
every catchment simulated, and the national tables (docs/national.md)."""
