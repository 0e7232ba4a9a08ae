"""The rule evaluators as they were before the array fast path (issue #19), frozen.

The oracle of ``tests/test_rules_fast.py``: :func:`rules_reference.findings.evaluate` is the
per-rule pandas implementation ``gridmap.rules.evaluate`` replaced; the fast one must give the
same findings (values, wording, order and dtypes). Not maintained: never import it elsewhere.
"""
