"""Recommendations learned from what viewers saw and did: the serving policies behind
`GET /v1/feed` (rules, model, exploration), experiment assignment, the trainer and the
counterfactual estimators. See `docs/recommendations.md`.

No Qt and no vlc (tests/test_architecture.py). The rule-based control policy is
`player.feed.build_feed` itself, imported rather than ported so control on the server is exactly
today's local feed; `player.feed` and `player.catalog` are pure code.
"""
