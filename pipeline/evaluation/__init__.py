"""Accuracy figures: image-level, event-level (videos) and from a hall's own reviews.

`metrics` is pure and unit-tested; the other modules run models or read a database
and only feed it.
"""
