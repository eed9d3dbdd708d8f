"""Analytics (capability C11): facts counted as they happen into pre-aggregated buckets, reports
read in O(buckets) — see docs/metrics.md. ``aggregator`` hears ``events.Activity``; ``reports``
answers the overview and time series from the buckets only (never conversations or messages)."""
