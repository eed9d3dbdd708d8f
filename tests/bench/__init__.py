"""``make bench``: figures for the issue's performance targets, printed (never asserted).

Three sections, each a module:

- ``coldstart``  webhook Lambdas and the Chalice app, a fresh process each, against the boto3 floor;
- ``awscalls``   AWS requests per inbound message, by operation (webhook and router);
- ``throughput`` messages per second through ``pipeline.handle`` against a minimal handler.

Everything runs on this machine against moto (in-process, plus a moto server that the first-request
children talk to). ``python -m tests.bench --help`` lists the knobs; docs/bench.md explains the
figures.
"""
