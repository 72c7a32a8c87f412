"""What one server process holds in memory: periodic loops on the IOLoop, counters written in
batches, rate limits, caches and dedupe sets. What they write is passed in at construction
(application.py); nothing here imports models or services."""
