"""Benchmarks: a synthetic news site, the crawl benchmark against wget, the README report."""
