"""Reports: the perf_analyzer console layout and the -f CSV."""
